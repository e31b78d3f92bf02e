"""`/diagnostics` for both nodes: one `DiagnosticStatus` per node, published by a timer.

The bookkeeping behind it (latency windows, throttled drop counters) is ROS-free, in
``nermo_ros.stats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR


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

    def destroy(self) -> None:
        self._node.destroy_timer(self._timer)
        self._node.destroy_publisher(self._publisher)

    def publish_now(self) -> None:
        status = make_status(self._name, self._node.get_fully_qualified_name(), self._report())
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(msg)


def _format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
