"""Frame rate, detection rate and skipped frames, for /diagnostics.

Latency percentiles and drop counters are the nodes' shared bookkeeping
(``nermo_ros.stats``); what is particular to perception is how many frames arrive, in how
many of them a person was found, and how many the camera sent that were never processed.
Times are seconds on one monotonic clock, except stamps (the camera's).
"""

from __future__ import annotations

from collections import deque


class FrameRateWindow:
    """Frames (with a found/not-found flag) seen in the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 5.0):
        if window_s <= 0:
            raise ValueError(f"window_s={window_s} must be > 0")
        self.window_s = window_s
        self._frames: deque[tuple[float, bool]] = deque()
        self._found_in_window = 0
        self.frames_total = 0
        self.detections_total = 0

    def add(self, now_s: float, person_found: bool) -> None:
        self._frames.append((now_s, person_found))
        self._found_in_window += int(person_found)
        self.frames_total += 1
        self.detections_total += int(person_found)
        self._trim(now_s)

    def _trim(self, now_s: float) -> None:
        while self._frames and self._frames[0][0] < now_s - self.window_s:
            self._found_in_window -= int(self._frames.popleft()[1])

    def frames_in_window(self, now_s: float) -> int:
        self._trim(now_s)
        return len(self._frames)

    def frame_rate_hz(self, now_s: float) -> float:
        """Frames per second between the first and last frame of the window (0 below 2)."""
        self._trim(now_s)
        if len(self._frames) < 2:
            return 0.0
        span_s = self._frames[-1][0] - self._frames[0][0]
        return (len(self._frames) - 1) / span_s if span_s > 0 else 0.0

    def detection_rate(self, now_s: float) -> float:
        """Share of the window's frames with a person found (0 when there are none)."""
        self._trim(now_s)
        return self._found_in_window / len(self._frames) if self._frames else 0.0


class SkippedFrameCounter:
    """Frames the camera sent that were never processed, counted from gaps in the stamps.

    The node takes the newest image and lets older ones go (a queue of one) rather than
    falling behind; the frames that went are only visible as gaps. With ``camera_rate_hz`` 0
    the camera period is taken as the smallest stamp step among the last ``window`` frames,
    which undercounts while not even two frames in a row are processed: set the rate then.
    """

    def __init__(self, camera_rate_hz: float = 0.0, window: int = 100):
        if camera_rate_hz < 0:
            raise ValueError(f"camera_rate_hz={camera_rate_hz} must be >= 0 (0: estimate)")
        self._period_s = 1.0 / camera_rate_hz if camera_rate_hz > 0 else None
        self._steps_s: deque[float] = deque(maxlen=window)
        self._last_s: float | None = None
        self.total = 0

    def add(self, stamp_s: float) -> int:
        """Count the frames missing before this stamp; -> how many."""
        last_s, self._last_s = self._last_s, stamp_s
        if last_s is None or stamp_s <= last_s:
            return 0  # the first frame, or the stamps went back: nothing to measure
        step_s = stamp_s - last_s
        self._steps_s.append(step_s)
        period_s = self._period_s or min(self._steps_s)
        skipped = max(0, int(round(step_s / period_s)) - 1)
        self.total += skipped
        return skipped
