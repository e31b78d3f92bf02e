"""Rolling latency percentiles and counted, throttled warnings (no rclpy).

Both nodes, the bag tools and the benchmarks report latency the same way: p50/p99 in
milliseconds. A bad input is counted every time but logged at most once per reason per
``throttle_s``, with how many were dropped since the last line, so a broken upstream cannot
flood the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


def percentiles_ms(samples_s: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """(p50, p99) of durations in seconds, as milliseconds; NaN for no samples."""
    samples = np.asarray(samples_s, dtype=np.float64)
    if samples.size == 0:
        return float("nan"), float("nan")
    p50, p99 = np.percentile(samples, [50.0, 99.0])
    return 1e3 * float(p50), 1e3 * float(p99)


class LatencyWindow:
    """The last ``size`` durations in a preallocated ring; percentiles only when asked."""

    def __init__(self, size: int = 1000):
        if size < 1:
            raise ValueError(f"latency window size must be >= 1, got {size}")
        self._samples_s = np.zeros(size, dtype=np.float64)
        self._next = 0
        self._count = 0

    def add(self, duration_s: float) -> None:
        self._samples_s[self._next] = duration_s
        self._next = (self._next + 1) % self._samples_s.size
        self._count = min(self._count + 1, self._samples_s.size)

    def __len__(self) -> int:
        return self._count

    def percentiles_ms(self) -> tuple[float, float]:
        """(p50, p99) in milliseconds; NaN before the first sample."""
        return percentiles_ms(self._samples_s[: self._count])


@dataclass
class DropCounter:
    """Counts dropped inputs by reason and says when a warning for a reason is due."""

    throttle_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    totals: dict[str, int] = field(default_factory=dict)
    _since_log: dict[str, int] = field(default_factory=dict)
    _last_log_s: dict[str, float] = field(default_factory=dict)

    def record(self, reason: str) -> int:
        """Count one drop; return how many to mention if a warning is due now, else 0."""
        self.totals[reason] = self.totals.get(reason, 0) + 1
        self._since_log[reason] = self._since_log.get(reason, 0) + 1
        now_s = self.clock()
        last_s = self._last_log_s.get(reason)
        if last_s is not None and now_s - last_s < self.throttle_s:
            return 0
        self._last_log_s[reason] = now_s
        return self._since_log.pop(reason)

    def warn(self, logger, reason: str, detail: str, routine: bool = False) -> None:
        """Count one drop and log ``detail`` if this reason's line is due. A ``routine`` event
        (a track forgotten or restarted: bookkeeping, not bad input) is logged at info level."""
        due = self.record(reason)
        if not due:
            return
        counts = f"[{due} since the last line of this kind, {self.totals[reason]} in total]"
        if routine:
            logger.info(f"{reason}: {detail} {counts}")
        else:
            logger.warning(f"dropped input ({reason}): {detail} {counts}")

    @property
    def total(self) -> int:
        return sum(self.totals.values())
