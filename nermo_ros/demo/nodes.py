"""The demo's two helper nodes: a recorded person played onto `skeletons`, and a monitor.

The player publishes each clip frame when its recorded time comes (stamped with the node
clock at that moment, so irregular intervals survive). The monitor listens the way any
consumer would, over DDS: it counts frames and forecasts, reads the predictor's latency from
`/diagnostics`, and scores forecasts against what the person then did, next to a
zero-velocity baseline from its own window of the same skeletons.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from nermo_ros.data.clip import Clip
from nermo_ros.forecasting.core import ForecastCore
from nermo_ros.forecasting.settings import settings_from
from nermo_ros.forecasting.track_record import forecaster_of
from nermo_ros.demo.live_error import LiveErrors
from nermo_ros.demo.report import BASELINE
from nermo_ros.msg import HumanForecastArray, Skeleton3DArray
from nermo_ros.nodes.diagnostics import status_values
from nermo_ros.nodes.msg_convert import (forecast_arrays, ns_to_stamp, people_arrays,
                                         skeleton_array_msg, stamp_to_ns)
from nermo_ros.predictors.baselines import ZeroVelocityPredictor
from nermo_ros.skeleton import NUM_JOINTS

PERSON_SPACING_M = 1.5
PERSON_LAG_FRAMES = 7


class ClipPlayer(Node):
    """Publishes a clip on ``topic`` at its recorded rate, then sets ``done``."""

    def __init__(self, clip: Clip, topic: str = "skeletons", frame_id: str = "world",
                 start_delay_s: float = 0.5, people: int = 1):
        super().__init__("clip_player")
        self._clip = clip
        self._people = people
        self._frame_id = frame_id
        self._confidence = np.ones(NUM_JOINTS, np.float32)
        self._publisher = self.create_publisher(
            Skeleton3DArray, topic, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self._start_ns = self.get_clock().now().nanoseconds + int(start_delay_s * 1e9)
        self._offsets_ns = np.round((clip.times_s - clip.times_s[0]) * 1e9).astype(np.int64)
        self.next_frame = 0
        self.done = False
        # Stamps follow the recording exactly; a tick every half frame keeps each message
        # within half a frame of its stamp without waking the executor needlessly.
        intervals_s = np.diff(clip.times_s)
        tick_s = 0.5 * float(intervals_s.min()) if intervals_s.size else 0.01
        self._timer = self.create_timer(tick_s, self._tick)

    def _tick(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        while (self.next_frame < len(self._offsets_ns)
               and self._start_ns + self._offsets_ns[self.next_frame] <= now_ns):
            self._publish(self.next_frame, self._start_ns + int(self._offsets_ns[self.next_frame]))
            self.next_frame += 1
        if self.next_frame == len(self._offsets_ns):
            self.stop()

    def stop(self) -> None:
        """Publish no more frames."""
        self.done = True
        self._timer.cancel()

    def _publish(self, index: int, stamp_ns: int) -> None:
        header = Header(stamp=ns_to_stamp(stamp_ns), frame_id=self._frame_id)
        self._publisher.publish(skeleton_array_msg(header, {
            f"body_{person}": (self._pose(index, person), self._confidence)
            for person in range(self._people)}))

    def _pose(self, index: int, person: int) -> np.ndarray:
        """Person k walks the clip PERSON_SPACING_M to the left of person k - 1, a few frames
        behind, so that the people are not in step."""
        lagged = max(index - PERSON_LAG_FRAMES * person, 0)
        return self._clip.positions_m[lagged] + np.array([0.0, PERSON_SPACING_M * person, 0.0])


class ForecastMonitor(Node):
    """Counts, latency and live error of the forecasts, reported through ``report``."""

    def __init__(self, horizons_s, report: Callable[["ForecastMonitor"], None],
                 skeletons_topic: str = "skeletons", forecast_topic: str = "human_forecast",
                 period_s: float = 1.0):
        super().__init__("forecast_monitor")
        self.horizons_s = np.asarray(horizons_s, dtype=float)
        self.errors = LiveErrors(self.horizons_s)
        self.frames_in = self.forecasts_out = 0
        self.last_frame_s = time.monotonic()
        self.predictor_name = ""  # the forecaster, whatever horizons a baseline took
        self.predictor_fields: Counter = Counter()  # forecasts by their predictor field
        self.predictor_status: dict[str, str] = {}
        # The baseline sees the frames through the same core as the predictor node (every
        # accepted person, from the first frame on).
        self._baseline = ForecastCore(ZeroVelocityPredictor(), settings_from(
            {"horizons_s": list(self.horizons_s), "min_frames": 1, "max_stamp_age_s": 0.0}))
        self._baselines: dict[tuple[str, int], np.ndarray] = {}
        self.create_subscription(Skeleton3DArray, skeletons_topic, self._on_skeletons,
                                 QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
        self.create_subscription(HumanForecastArray, forecast_topic, self._on_forecasts, 50)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.create_timer(period_s, lambda: report(self))

    def _on_skeletons(self, msg: Skeleton3DArray) -> None:
        self.frames_in += 1
        self.last_frame_s = time.monotonic()
        stamp_ns = stamp_to_ns(msg.header.stamp)
        # Bad input is the predictor node's to count and report; here it is just left out.
        result = self._baseline.process(stamp_ns, people_arrays(msg))
        windows = self._baseline.tracker.windows
        for row, track_id in enumerate(result.track_ids):  # every accepted person
            window = windows[track_id]
            self.errors.observe(track_id, stamp_ns, window.positions_m[-1], window.observed[-1])
            self._baselines[(track_id, stamp_ns)] = result.forecast.positions[row].copy()
        oldest_ns = stamp_ns - 2_000_000_000
        for key in [k for k in self._baselines if k[1] < oldest_ns]:
            del self._baselines[key]

    def _on_forecasts(self, msg: HumanForecastArray) -> None:
        for message in msg.forecasts:
            forecast = forecast_arrays(message)
            # scored as the forecaster's, with or without horizons the track record handed
            # to a baseline (``nermo; zero_velocity at 1 s``): that is what was published
            self.predictor_name = forecaster_of(forecast.predictor)
            self.predictor_fields[forecast.predictor] += 1
            self.forecasts_out += 1
            if not np.allclose(forecast.time_offsets_s, self.horizons_s, atol=1e-4):
                continue
            still = self._baselines.pop((forecast.track_id, forecast.stamp_ns), None)
            scored = {self.predictor_name: forecast.positions_m.astype(float)}
            if still is not None:
                scored[BASELINE] = still
            self.errors.forecast(forecast.track_id, forecast.stamp_ns, scored)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = status_values(status)
            if "predictor_latency_p50_ms" in values:
                self.predictor_status = values
