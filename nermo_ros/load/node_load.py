"""`nermo-ros bench --node-load`: the predictor node as its own process under a steady crowd.

A publisher sends a crowd (``crowd.Crowd``) at a fixed rate, stamped with the time of sending
(the camera's capture time); the node runs exactly as `nermo-ros run --no-perception` starts
it. Measured after a warm-up: the share of frames answered, camera -> forecast latency (the
forecast's arrival minus its frame's stamp, one clock), the node's own counts from
/diagnostics (frames skipped or lost, tracks evicted), and the node process's resident memory
at the start and end of the measured span (a soak shows it flat).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nermo_ros.load.crowd import Crowd
from nermo_ros.stats import percentiles_ms

NODE_START_TIMEOUT_S = 300.0  # a first start may compile the model


@dataclass(frozen=True)
class LoadSettings:
    rate_hz: float = 30.0
    people: int = 8
    duration_s: float = 60.0
    warmup_s: float = 10.0
    churn_s: float = 0.0  # 0: the same people throughout
    node_args: tuple[str, ...] = ()  # extra `nermo-ros run` arguments (--set, --backend, ...)
    log_path: str = ""  # where the node's output goes ("" : discarded)


@dataclass
class LoadResult:
    settings: LoadSettings
    frames_sent: int = 0
    frames_answered: int = 0
    latency_s: list[float] = field(default_factory=list)
    forecasts: int = 0
    identities: int = 0
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds in, MB)
    node_status: dict[str, str] = field(default_factory=dict)
    node_exit_code: int | None = None

    @property
    def answered_share(self) -> float:
        return self.frames_answered / self.frames_sent if self.frames_sent else float("nan")

    @property
    def rss_drift(self) -> float:
        """End over start of the measured span, minus 1."""
        if len(self.rss_mb) < 2:
            return float("nan")
        return self.rss_mb[-1][1] / self.rss_mb[0][1] - 1.0

    def lines(self) -> list[str]:
        s = self.settings
        p50, p99 = percentiles_ms(self.latency_s)
        worst = 1e3 * max(self.latency_s) if self.latency_s else float("nan")
        status = self.node_status
        lines = [
            f"node load: {s.people} people at {s.rate_hz:g} Hz for {s.duration_s:g} s "
            f"(after {s.warmup_s:g} s warm-up), churn every {s.churn_s:g} s"
            if s.churn_s else
            f"node load: {s.people} people at {s.rate_hz:g} Hz for {s.duration_s:g} s "
            f"(after {s.warmup_s:g} s warm-up), no churn",
            f"frames sent {self.frames_sent}, answered {self.frames_answered} "
            f"({100 * self.answered_share:.1f} %), forecasts {self.forecasts}, "
            f"people seen {self.identities}",
            f"camera -> forecast latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms",
            "node counts: " + ", ".join(f"{k} {status.get(k, '?')}" for k in (
                "frames_received_total", "frames_skipped_total", "frames_lost_dds_total",
                "tracks_evicted_total", "dropped_total", "predictor_latency_p50_ms",
                "predictor_latency_p99_ms", "backend")),
        ]
        if len(self.rss_mb) >= 2:
            lines.append(f"node RSS: {self.rss_mb[0][1]:.1f} MB at {self.rss_mb[0][0]:.0f} s, "
                         f"{self.rss_mb[-1][1]:.1f} MB at {self.rss_mb[-1][0]:.0f} s "
                         f"({100 * self.rss_drift:+.2f} %)")
        lines.append(f"node exit code {self.node_exit_code}")
        return lines


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for process {pid}")


def run_node_load(settings: LoadSettings, crowd: Crowd) -> LoadResult:
    """Start the node, load it, measure, stop it (SIGINT) and return what was measured."""
    import rclpy

    domain_id = 40 + os.getpid() % 50
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    log = open(settings.log_path, "w") if settings.log_path else subprocess.DEVNULL
    node_process = subprocess.Popen(
        [sys.executable, "-m", "nermo_ros.cli", "run", "--no-perception", *settings.node_args],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    result = LoadResult(settings)
    try:
        probe = _Probe(context)
        probe.wait_until_ready(node_process)
        _drive(probe, crowd, settings, result, node_process.pid)
        probe.close()
    finally:
        rclpy.try_shutdown(context=context)
        node_process.send_signal(signal.SIGINT)
        try:
            result.node_exit_code = node_process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node_process.kill()
            result.node_exit_code = node_process.wait()
        if log is not subprocess.DEVNULL:
            log.close()
    return result


def _drive(probe: "_Probe", crowd: Crowd, settings: LoadSettings, result: LoadResult,
           pid: int) -> None:
    """Publish at the rate on an absolute schedule; sample memory every few seconds."""
    period_s = 1.0 / settings.rate_hz
    total_s = settings.warmup_s + settings.duration_s
    started = time.perf_counter()
    next_rss_s = settings.warmup_s
    measured_stamps: set[int] = set()
    k = 0
    while True:
        due = started + k * period_s
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        elapsed_s = time.perf_counter() - started
        if elapsed_s >= total_s:
            break
        stamp_ns = probe.publish(crowd.frame(elapsed_s))
        if elapsed_s >= settings.warmup_s:
            measured_stamps.add(stamp_ns)
        if elapsed_s >= next_rss_s:
            result.rss_mb.append((elapsed_s, rss_mb(pid)))
            next_rss_s += 10.0
        k += 1
    time.sleep(1.0)  # the last answers
    result.rss_mb.append((time.perf_counter() - started, rss_mb(pid)))
    arrivals = probe.arrivals()
    result.frames_sent = len(measured_stamps)
    answered = {s: a for s, a in arrivals.items() if s in measured_stamps}
    result.frames_answered = len(answered)
    result.latency_s = [(a - s) * 1e-9 for s, (a, _) in answered.items()]
    result.forecasts = sum(n for _, n in answered.values())
    result.identities = crowd.identities_by(total_s)
    result.node_status = dict(probe.status)


class _Probe:
    """The benchmark's own node: publishes the crowd, records answers and /diagnostics."""

    def __init__(self, context):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from nermo_ros.msg import HumanForecastArray, Skeleton3DArray

        self.node = rclpy.create_node(f"nermo_node_load_{os.getpid()}", context=context)
        self._publisher = self.node.create_publisher(
            Skeleton3DArray, "skeletons", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self._arrivals: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self.status: dict[str, str] = {}
        self.node.create_subscription(HumanForecastArray, "human_forecast", self._on_forecast,
                                      QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_status, 10)
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            self._executor.spin()
        except ExternalShutdownException:
            pass

    def wait_until_ready(self, node_process: subprocess.Popen) -> None:
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while not (self._publisher.get_subscription_count() and self.status.get("active") == "True"):
            if node_process.poll() is not None:
                raise RuntimeError(f"the predictor node exited with {node_process.returncode} "
                                   f"before it was ready (see its log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the predictor node was not ready within "
                                   f"{NODE_START_TIMEOUT_S:.0f} s")
            time.sleep(0.1)

    def publish(self, people: dict) -> int:
        from std_msgs.msg import Header

        from nermo_ros.nodes.msg_convert import ns_to_stamp, skeleton_array_msg

        stamp_ns = self.node.get_clock().now().nanoseconds
        header = Header(stamp=ns_to_stamp(stamp_ns), frame_id="world")
        self._publisher.publish(skeleton_array_msg(header, people))
        return stamp_ns

    def _on_forecast(self, msg) -> None:
        from nermo_ros.nodes.msg_convert import stamp_to_ns

        arrival_ns = self.node.get_clock().now().nanoseconds
        with self._lock:
            self._arrivals[stamp_to_ns(msg.header.stamp)] = (arrival_ns, len(msg.forecasts))

    def _on_status(self, msg) -> None:
        from nermo_ros.nodes.diagnostics import status_values

        for status in msg.status:
            values = status_values(status)
            if "frames_skipped_total" in values:
                self.status = values

    def arrivals(self) -> dict[int, tuple[int, int]]:
        with self._lock:
            return dict(self._arrivals)

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()


def crowd_from_clip(people: int, churn_s: float) -> Crowd:
    from nermo_ros.data.pybullet_clips import DEFAULT_CLIP, load_clip

    return Crowd(load_clip(DEFAULT_CLIP), people, churn_s)


def summary_numbers(result: LoadResult) -> dict:
    p50, p99 = percentiles_ms(result.latency_s)
    return {"answered_share": result.answered_share, "latency_p50_ms": p50,
            "latency_p99_ms": p99, "rss_drift": result.rss_drift,
            "frames_sent": result.frames_sent, "node_exit_code": result.node_exit_code,
            "latency_max_ms": float(np.max(result.latency_s) * 1e3) if result.latency_s else None}
