"""Health of a recorded skeleton stream: gaps and time jumps, reported instead of crashing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GAP_FACTOR = 3.0  # a step this many times the median frame step is a gap


@dataclass(frozen=True)
class StreamCheck:
    frames: int
    duration_s: float
    median_step_s: float
    gaps: tuple[tuple[float, float], ...]  # (seconds from start, gap length s)
    backward_jumps: tuple[tuple[float, float], ...]  # (seconds from start, how far back s)
    empty_frames: int

    def lines(self) -> list[str]:
        rate = f"{1.0 / self.median_step_s:.1f} Hz" if self.median_step_s > 0 else "n/a"
        out = [f"{self.frames} frames over {self.duration_s:.2f} s (median rate {rate}), "
               f"{self.empty_frames} without people"]
        if self.gaps:
            longest = max(g[1] for g in self.gaps)
            out.append(f"{len(self.gaps)} gaps (longest {longest:.3f} s, first at "
                       f"{self.gaps[0][0]:.2f} s): forecasts whose target falls in a gap "
                       "are not scored")
        if self.backward_jumps:
            out.append(f"{len(self.backward_jumps)} backward time jumps (first at "
                       f"{self.backward_jumps[0][0]:.2f} s, {self.backward_jumps[0][1]:.3f} s "
                       "back): the tracker restarts the affected tracks, as the node does")
        return out


def check_stream(stamps_ns: np.ndarray, empty_frames: int = 0,
                 gap_factor: float = GAP_FACTOR) -> StreamCheck:
    """Gaps (steps > gap_factor x the median step) and backward jumps of frame stamps."""
    stamps = np.asarray(stamps_ns, dtype=np.int64)
    if len(stamps) < 2:
        return StreamCheck(len(stamps), 0.0, 0.0, (), (), empty_frames)
    steps_s = np.diff(stamps) * 1e-9
    forward = steps_s[steps_s > 0]
    median = float(np.median(forward)) if len(forward) else 0.0
    at_s = (stamps[:-1] - stamps[0]) * 1e-9
    gap_idx = np.flatnonzero(steps_s > gap_factor * median) if median > 0 else []
    back_idx = np.flatnonzero(steps_s < 0)
    return StreamCheck(
        frames=len(stamps), duration_s=float((stamps.max() - stamps.min()) * 1e-9),
        median_step_s=median,
        gaps=tuple((float(at_s[i]), float(steps_s[i])) for i in gap_idx),
        backward_jumps=tuple((float(at_s[i]), float(-steps_s[i])) for i in back_idx),
        empty_frames=empty_frames)
