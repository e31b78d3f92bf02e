"""One recorded person as canonical skeletons with real timestamps: what every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.skeleton import NUM_JOINTS


@dataclass(frozen=True)
class Clip:
    """times_s: (T,) increasing seconds from the first frame; positions_m: (T, 17, 3) metres,
    REP-103 axes (x forward, y left, z up), canonical joint order (nermo_ros/skeleton.py)."""

    times_s: np.ndarray
    positions_m: np.ndarray
    name: str

    def __post_init__(self) -> None:
        times, pos = np.asarray(self.times_s), np.asarray(self.positions_m)
        if times.ndim != 1 or pos.shape != (len(times), NUM_JOINTS, 3):
            raise ValueError(
                f"clip {self.name!r}: expected times (T,) and positions (T, {NUM_JOINTS}, 3), "
                f"got {times.shape} and {pos.shape}")
        if len(times) > 1 and not np.all(np.diff(times) > 0):
            raise ValueError(f"clip {self.name!r}: timestamps must increase strictly")

    @property
    def duration_s(self) -> float:
        return float(self.times_s[-1] - self.times_s[0]) if len(self.times_s) else 0.0

    @property
    def num_frames(self) -> int:
        return int(len(self.times_s))
