"""All tracked people: one window per track id, time-order checks, expiry and batching.

Everything is keyed on header stamps (integer nanoseconds), never on arrival time, so
irregular frame intervals and replayed bags behave the same as live input. A stamp that goes
back by more than ``time_jump_reset_s`` (a bag looping, a clock reset) starts the track over;
a smaller step back is an out-of-order frame and is dropped. A skeleton whose joints moved
faster than a person can since the track's newest frame is held back for one frame, because
a camera's single glitchy frame (an arm flipped for a frame, then back) and an identity switch
upstream look alike until the next frame: if that one is within a person's speed of the track's
newest frame, the held frame was a glitch and stays out; otherwise the body really changed and
the track starts over from the held frame (from the new one alone if it is far from both), so
no window ever mixes two bodies. When every slot is taken, a new person takes the slot of the
track seen least recently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Container, Sequence

import numpy as np

from nermo_ros.predictors.base import WindowBatch
from nermo_ros.skeleton import NUM_JOINTS
from nermo_ros.tracking.validation import Reason, Rejection
from nermo_ros.tracking.window import TrackWindow


# Displacement allowed on top of max_joint_speed_mps * dt: the jitter of a camera skeleton
# between two close frames, so that 1 cm of noise 1 ms apart is not a 10 m/s jump.
JUMP_SLACK_M = 0.2


@dataclass(frozen=True)
class TrackerSettings:
    """The predictor settings the tracker reads (``PredictorSettings.tracker_settings()``)."""

    window_s: float
    window_frames: int
    track_timeout_s: float
    time_jump_reset_s: float
    max_tracks: int
    max_joint_speed_mps: float = float("inf")

    def __post_init__(self):
        problems = [f"{name}={value} must be > 0" for name, value in (
            ("window_s", self.window_s), ("window_frames", self.window_frames),
            ("track_timeout_s", self.track_timeout_s),
            ("time_jump_reset_s", self.time_jump_reset_s), ("max_tracks", self.max_tracks),
            ("max_joint_speed_mps", self.max_joint_speed_mps),
        ) if value <= 0]
        if problems:
            raise ValueError("bad tracker settings: " + "; ".join(problems))


@dataclass(frozen=True)
class HeldFrame:
    """A skeleton that jumped from its track, waiting for the next frame to say why."""

    stamp_ns: int
    positions_m: np.ndarray
    observed: np.ndarray


@dataclass(frozen=True)
class Accepted:
    """The frame entered the window. ``reset``: the track was started over first, because
    time jumped back (Reason.TIME_JUMP_BACKWARDS) or the body jumped (Reason.IMPLAUSIBLE_JUMP);
    ``evicted``: the track whose slot this new track took."""

    reset: str = ""
    evicted: str = ""


class Tracker:
    def __init__(self, settings: TrackerSettings, num_joints: int = NUM_JOINTS):
        self.settings = settings
        self.windows: dict[str, TrackWindow] = {}
        self.held: dict[str, HeldFrame] = {}  # track id -> its frame held after a jump
        self._time_jump_ns = int(round(settings.time_jump_reset_s * 1e9))
        self._timeout_ns = int(round(settings.track_timeout_s * 1e9))
        shape = (settings.max_tracks, settings.window_frames)
        self._times_s = np.zeros(shape, dtype=np.float64)
        self._positions_m = np.zeros(shape + (num_joints, 3), dtype=np.float32)
        self._joint_mask = np.zeros(shape + (num_joints,), dtype=bool)
        self._frame_valid = np.zeros(shape, dtype=bool)
        self._num_joints = num_joints

    def __len__(self) -> int:
        return len(self.windows)

    def push(self, track_id: str, stamp_ns: int, positions_m: np.ndarray,
             observed: np.ndarray, keep: Container[str] = ()) -> Accepted | Rejection:
        """Add one validated skeleton to its track's window, or say why it was not added.

        A new track when all slots are taken evicts the least recently seen track that is not
        in ``keep`` (the tracks of the frame at hand)."""
        window = self.windows.get(track_id)
        evicted = ""
        if window is None:
            if len(self.windows) >= self.settings.max_tracks:
                evicted = self._least_recent(keep)
                if not evicted:
                    return Rejection(Reason.TOO_MANY_TRACKS,
                                     f"track {track_id!r} would be track {len(self.windows) + 1} "
                                     f"of one frame, more than max_tracks="
                                     f"{self.settings.max_tracks}")
                self._drop(evicted)
            window = TrackWindow(self.settings.window_frames, self.settings.window_s,
                                 self._num_joints)
            self.windows[track_id] = window
        if not window.num_frames:
            window.append(stamp_ns, positions_m, observed)
            return Accepted(evicted=evicted)
        held = self.held.get(track_id)
        step_ns = stamp_ns - (held.stamp_ns if held else window.newest_ns)
        if step_ns == 0:
            return Rejection(Reason.DUPLICATE_STAMP,
                             f"track {track_id!r} already has a frame at this stamp")
        if step_ns < -self._time_jump_ns:
            return self._start_over(track_id, Reason.TIME_JUMP_BACKWARDS, stamp_ns,
                                    positions_m, observed)
        if step_ns < 0:
            return Rejection(Reason.OUT_OF_ORDER,
                             f"track {track_id!r}: stamp is {-step_ns * 1e-9:.3f} s older "
                             f"than its newest frame")
        jump = self._jump_m(window.newest_ns, window.positions_m[-1], window.observed[-1],
                            stamp_ns, positions_m, observed)
        if held is None and jump:
            self.held[track_id] = HeldFrame(stamp_ns, positions_m.copy(), observed.copy())
            return Rejection(Reason.JUMP_HELD, f"track {track_id!r}: a joint moved "
                             f"{jump[0]:.2f} m in {(stamp_ns - window.newest_ns) * 1e-6:.0f} ms "
                             f"(at most {jump[1]:.2f}); held back a frame to tell a glitch "
                             f"from a new body")
        self.held.pop(track_id, None)
        if held is not None and jump:  # the held frame was no glitch: start over from it
            restarted = not self._jump_m(held.stamp_ns, held.positions_m, held.observed,
                                         stamp_ns, positions_m, observed)
            window.clear()
            if restarted:
                window.append(held.stamp_ns, held.positions_m, held.observed)
            window.append(stamp_ns, positions_m, observed)
            return Accepted(reset=Reason.IMPLAUSIBLE_JUMP)
        window.append(stamp_ns, positions_m, observed)  # a held frame, if any, was a glitch
        return Accepted()

    def _start_over(self, track_id: str, reason: str, stamp_ns: int, positions_m: np.ndarray,
                    observed: np.ndarray) -> Accepted:
        self.held.pop(track_id, None)
        window = self.windows[track_id]
        window.clear()
        window.append(stamp_ns, positions_m, observed)
        return Accepted(reset=reason)

    def _jump_m(self, from_ns: int, from_m: np.ndarray, from_observed: np.ndarray,
                stamp_ns: int, positions_m: np.ndarray, observed: np.ndarray
                ) -> tuple[float, float] | None:
        """(largest move, the most allowed) where a joint seen in both frames moved faster
        than max_joint_speed_mps; None if none did."""
        both = observed & from_observed
        if not both.any():
            return None
        moved_m = float(np.linalg.norm(positions_m[both] - from_m[both], axis=1).max())
        allowed_m = self.settings.max_joint_speed_mps * (stamp_ns - from_ns) * 1e-9 + JUMP_SLACK_M
        return (moved_m, allowed_m) if moved_m > allowed_m else None

    def _drop(self, track_id: str) -> None:
        del self.windows[track_id]
        self.held.pop(track_id, None)

    def _least_recent(self, keep: Container[str]) -> str:
        """The track seen least recently outside ``keep`` ("" if every track is in it)."""
        candidates = [(w.newest_ns, t) for t, w in self.windows.items() if t not in keep]
        return min(candidates)[1] if candidates else ""

    def expire(self, now_ns: int, keep: Container[str] = ()) -> list[str]:
        """Forget tracks unseen for track_timeout_s (or far ahead of ``now_ns`` after a jump).

        Tracks in ``keep`` (those of the frame at hand) stay: a jump back resets them instead.
        """
        expired = [track_id for track_id, window in self.windows.items()
                   if track_id not in keep and (now_ns - window.newest_ns > self._timeout_ns
                                                or window.newest_ns - now_ns > self._time_jump_ns)]
        for track_id in expired:
            self._drop(track_id)
        return expired

    def num_frames(self, track_id: str) -> int:
        """Valid frames of the track's window (0 for an unknown track)."""
        window = self.windows.get(track_id)
        return window.count_valid() if window is not None else 0

    def batch(self, track_ids: Sequence[str]) -> WindowBatch:
        """The windows of ``track_ids`` as one padded batch, times relative to each newest frame.

        The arrays are views of buffers reused by the next call: read them, do not keep them.
        """
        for row, track_id in enumerate(track_ids):
            window = self.windows[track_id]
            valid = window.valid_frames(self._frame_valid[row])
            np.subtract(window.stamps_ns, window.newest_ns, out=self._times_s[row],
                        casting="unsafe")
            self._times_s[row] *= 1e-9
            self._times_s[row] *= valid  # padding frames read as time 0, masked out
            self._positions_m[row] = window.positions_m
            np.logical_and(window.observed, valid[:, None], out=self._joint_mask[row])
        count = len(track_ids)
        return WindowBatch(times_s=self._times_s[:count], positions=self._positions_m[:count],
                           joint_mask=self._joint_mask[:count],
                           frame_valid=self._frame_valid[:count], track_ids=list(track_ids))
