"""Shared bookkeeping for `/diagnostics` and for counted, throttled warnings.

Both nodes report the same way: a rolling latency window (p50/p99), counters of dropped
inputs by reason, and one `DiagnosticStatus` per node published by a timer. A bad input is
counted every time but logged at most once per reason per ``throttle_s``, with how many were
dropped since the last line, so a broken upstream cannot flood the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR


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
        if self._count == 0:
            return float("nan"), float("nan")
        p50, p99 = np.percentile(self._samples_s[: self._count], [50.0, 99.0])
        return 1e3 * float(p50), 1e3 * float(p99)


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

    def warn(self, logger, reason: str, detail: str) -> None:
        """Count one drop and log ``detail`` if this reason's warning is due."""
        due = self.record(reason)
        if due:
            logger.warning(f"dropped input ({reason}): {detail} "
                           f"[{due} since last warning of this kind, "
                           f"{self.totals[reason]} in total]")

    @property
    def total(self) -> int:
        return sum(self.totals.values())


@dataclass(frozen=True)
class DiagnosticReport:
    """What a node says about itself once per period."""

    level: bytes  # OK, WARN or ERROR (DiagnosticStatus byte constants)
    message: str
    values: Mapping[str, object]


def make_status(name: str, hardware_id: str, report: DiagnosticReport) -> DiagnosticStatus:
    """A DiagnosticStatus with the report's values as key/value strings."""
    values = [KeyValue(key=str(k), value=_format_value(v)) for k, v in report.values.items()]
    return DiagnosticStatus(level=report.level, name=name, message=report.message,
                            hardware_id=hardware_id, values=values)


def status_values(status: DiagnosticStatus) -> dict[str, str]:
    """Key/values of a received status as a dict (for readers of /diagnostics)."""
    return {kv.key: kv.value for kv in status.values}


class DiagnosticsPublisher:
    """Publishes ``report()`` on `/diagnostics` every ``period_s`` seconds from a timer."""

    def __init__(self, node, status_name: str, period_s: float,
                 report: Callable[[], DiagnosticReport], topic: str = "/diagnostics"):
        if period_s <= 0:
            raise ValueError(f"diagnostics period must be > 0 s, got {period_s}")
        self._node = node
        self._name = f"{node.get_name()}: {status_name}"
        self._report = report
        self._publisher = node.create_publisher(DiagnosticArray, topic, 10)
        self._timer = node.create_timer(period_s, self.publish_now)

    def publish_now(self) -> None:
        status = make_status(self._name, self._node.get_fully_qualified_name(), self._report())
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(msg)


def _format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
