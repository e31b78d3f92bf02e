"""One person's recent skeletons in fixed, preallocated arrays (newest last).

The window is a shift buffer: appending moves the older frames one slot towards the front in
place, so the arrays are always in time order and never reallocated. It holds at most
``max_frames`` frames; frames older than ``max_age_s`` before the newest are kept but marked
invalid, so the window is bounded both in frames and in seconds.
"""

from __future__ import annotations

import numpy as np

from nermo_ros.skeleton import NUM_JOINTS


class TrackWindow:
    def __init__(self, max_frames: int, max_age_s: float, num_joints: int = NUM_JOINTS):
        if max_frames < 1 or max_age_s <= 0:
            raise ValueError(f"a window needs max_frames >= 1 and max_age_s > 0, got "
                             f"{max_frames} frames and {max_age_s} s")
        self.max_frames = max_frames
        self.max_age_ns = int(round(max_age_s * 1e9))
        self.stamps_ns = np.zeros(max_frames, dtype=np.int64)
        self.positions_m = np.zeros((max_frames, num_joints, 3), dtype=np.float32)
        self.observed = np.zeros((max_frames, num_joints), dtype=bool)
        self.num_frames = 0

    @property
    def newest_ns(self) -> int:
        return int(self.stamps_ns[-1])

    def clear(self) -> None:
        self.observed[:] = False
        self.positions_m[:] = 0.0
        self.num_frames = 0

    def append(self, stamp_ns: int, positions_m: np.ndarray, observed: np.ndarray) -> None:
        """Add a frame newer than every frame held (the caller checks the order)."""
        for array in (self.stamps_ns, self.positions_m, self.observed):
            array[:-1] = array[1:]
        self.stamps_ns[-1] = stamp_ns
        self.positions_m[-1] = positions_m
        self.observed[-1] = observed
        self.num_frames = min(self.num_frames + 1, self.max_frames)

    def valid_frames(self, out: np.ndarray) -> np.ndarray:
        """(max_frames,) bool: held and no older than max_age_s before the newest frame."""
        out[:] = False
        if self.num_frames:
            held = slice(self.max_frames - self.num_frames, None)
            out[held] = self.stamps_ns[held] >= self.newest_ns - self.max_age_ns
        return out

    def count_valid(self) -> int:
        if not self.num_frames:
            return 0
        held = self.stamps_ns[self.max_frames - self.num_frames:]
        return int(np.count_nonzero(held >= self.newest_ns - self.max_age_ns))
