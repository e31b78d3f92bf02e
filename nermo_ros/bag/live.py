"""Live evaluation: replay a bag into the real predictor node over DDS and score its answers.

The predictor node is built in this process (``bringup.build_nodes``) with the evaluation's
parameters, on topics private to this run, with use_sim_time and the bag's /clock. Its input
is made reliable with a deep queue so that every recorded frame reaches it: the evaluation
measures the predictor, not dropped packets. Latency is end to end: from publishing a frame to
receiving its forecast array.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

import numpy as np

from nermo_ros.bag.evaluate import EvaluationInput, score_run
from nermo_ros.bag.io import RawMessage
from nermo_ros.bag.messages import ForecastRecord, skeleton_array
from nermo_ros.bag.report import Evaluation
from nermo_ros.bag.timing import ReplaySettings
from nermo_ros.bag import types as T
from nermo_ros.forecasting.truth import SCORING_MAX_GAP_S


def frames_as_messages(data: EvaluationInput, topic: str) -> list[RawMessage]:
    """The recorded frames as serialised Skeleton3DArray (also for PoseArray/MarkerArray bags)."""
    store = T.typestore()
    return [RawMessage(topic, T.SKELETON_ARRAY, f.log_ns or f.stamp_ns,
                       bytes(store.serialize_cdr(skeleton_array(f), T.SKELETON_ARRAY)))
            for f in sorted(data.frames, key=lambda f: f.log_ns or f.stamp_ns)]


class ForecastCollector:
    """Receives the node's forecast arrays; remembers when each arrived."""

    def __init__(self, node, topic: str):
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from nermo_ros.msg import HumanForecastArray

        self.records: list[ForecastRecord] = []
        self.arrival_s: dict[int, float] = {}
        self.arrays = 0
        self.last_arrival_s = time.perf_counter()
        self._lock = threading.Lock()
        node.create_subscription(HumanForecastArray, topic, self._on_forecasts,
                                 QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))

    def _on_forecasts(self, msg) -> None:
        from nermo_ros.nodes.msg_convert import forecast_arrays, stamp_to_ns

        now = time.perf_counter()
        stamp_ns = stamp_to_ns(msg.header.stamp)
        records = []
        for forecast in msg.forecasts:
            a = forecast_arrays(forecast)
            records.append(replace(a, time_offsets_s=a.time_offsets_s.astype(np.float64),
                                   positions_m=a.positions_m.copy(),
                                   uncertainty_m=a.uncertainty_m.copy()))
        with self._lock:
            self.records.extend(records)
            self.arrival_s[stamp_ns] = now
            self.arrays += 1
            self.last_arrival_s = now


def live_overrides(data: EvaluationInput, prefix: str) -> dict:
    """The evaluation's predictor settings, on private topics, every frame delivered."""
    overrides = data.settings.as_params()
    overrides.update(skeletons_topic=f"{prefix}/skeletons", forecast_topic=f"{prefix}/forecast",
                     markers_topic=f"{prefix}/markers", input_reliability="reliable",
                     input_queue_depth=1000, markers_period_s=0.0, use_sim_time=True)
    return overrides


def evaluate_live(data: EvaluationInput, rate: float = 1.0, settle_s: float = 2.0,
                  discovery_timeout_s: float = 10.0, max_gap_s: float = SCORING_MAX_GAP_S
                  ) -> tuple[Evaluation, list[ForecastRecord]]:
    """Replay ``data`` through the predictor node at ``rate``; score what it publishes."""
    import rclpy

    from nermo_ros.bag.player import BagPlayer
    from nermo_ros.nodes.bringup import build_nodes

    owns_rclpy = not rclpy.ok()
    if owns_rclpy:
        rclpy.init(args=[])  # our own arguments are not ROS arguments
    prefix = f"/nermo_bag_eval_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    nodes = []
    try:
        predictor_node = build_nodes(predictor_overrides=live_overrides(data, prefix),
                                     with_perception=False)[0]
        nodes.append(predictor_node)
        io_node = rclpy.create_node(f"nermo_bag_eval_{os.getpid()}")
        nodes.append(io_node)
        collector = ForecastCollector(io_node, f"{prefix}/forecast")
        published_s: dict[int, float] = {}
        stamp_by_log = {f.log_ns or f.stamp_ns: f.stamp_ns for f in data.frames}
        player = BagPlayer(io_node, frames_as_messages(data, f"{prefix}/skeletons"),
                           ReplaySettings(rate=rate),
                           on_published=lambda m, t: published_s.setdefault(
                               stamp_by_log[m.log_ns], t))
        done = threading.Event()
        spinner = threading.Thread(target=_spin, args=(nodes, done), daemon=True)
        spinner.start()
        if not player.wait_for_subscribers(1, discovery_timeout_s):
            raise RuntimeError(f"the predictor node did not subscribe to {prefix}/skeletons "
                               f"within {discovery_timeout_s} s (DDS discovery failed?)")
        player.play()
        _settle(collector, len(data.frames), settle_s)
        done.set()
        spinner.join(timeout=5.0)
        latency = [collector.arrival_s[s] - published_s[s] for s in collector.arrival_s
                   if s in published_s]
        notes = [f"the node answered {collector.arrays} of {len(data.frames)} frames; "
                 f"replay was at most {player.stats.max_late_s * 1e3:.1f} ms late"]
        evaluation = score_run(data, collector.records, latency, "live",
                               predictor_node.predictor.name,
                               "end to end: frame published -> forecast received over DDS",
                               max_gap_s, extra_notes=notes)
        return evaluation, collector.records
    finally:
        for node in nodes:
            node.destroy_node()
        if owns_rclpy:
            rclpy.try_shutdown()


def _spin(nodes: list, done: threading.Event) -> None:
    from nermo_ros.nodes.bringup import spin_until

    spin_until(nodes, done.is_set)


def _settle(collector: ForecastCollector, expected: int, settle_s: float) -> None:
    """Wait until every frame is answered, or nothing more arrived for ``settle_s``."""
    quiet_since = time.perf_counter()
    while collector.arrays < expected:
        last = max(quiet_since, collector.last_arrival_s)
        if time.perf_counter() - last > settle_s:
            return
        time.sleep(0.02)
