"""Predictor node: Skeleton3DArray in, HumanForecastArray out on `human_forecast`, per frame.

A managed (lifecycle) node: configure checks the settings, loads and compiles the predictor;
activate starts publishing. Each frame's messages become arrays and go through
``ForecastCore`` (validate, track, window, predict, check output, count); the node publishes
the result, markers at a limited rate and `/diagnostics`, and logs each kind of event at most
once per ``warn_throttle_s``. The input keeps only the newest frame (``input_queue_depth`` 1):
under overload frames are skipped, not queued, and every skipped or lost frame is counted from
the publishers' sequence numbers and the middleware's message-lost event.
"""

from __future__ import annotations

import time

from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from visualization_msgs.msg import MarkerArray

from nermo_ros.forecasting.core import ForecastCore
from nermo_ros.forecasting.live_coverage import LiveCoverage
from nermo_ros.forecasting.settings import NODE_NAME, PARAMS, PredictorSettings, settings_from
from nermo_ros.msg import HumanForecastArray, Skeleton3DArray
from nermo_ros.nodes.bringup import spin_node_main
from nermo_ros.nodes.diagnostics import DiagnosticsPublisher
from nermo_ros.nodes.markers import skeleton_markers
from nermo_ros.nodes.msg_convert import forecast_array_msg, people_arrays
from nermo_ros.nodes.params import (declare_parameters, parameter_overrides,
                                    parameter_values)
from nermo_ros.nodes.planner_outputs import PlannerOutputs
from nermo_ros.nodes.predictor_status import (ROUTINE, FrameFlow, ReportedTotals,
                                              predictor_report)
from nermo_ros.predictors.factory import make_predictor_from_params, warm_up
from nermo_ros.stats import DropCounter, LatencyWindow
from nermo_ros.tracking.validation import Rejection, stamp_ns

__all__ = ["NODE_NAME", "PARAMS", "PredictorNode", "main"]
# What configure may refuse with: bad settings, a missing checkpoint, a backend that cannot run.
CONFIGURE_ERRORS = (ValueError, FileNotFoundError, RuntimeError, ImportError)


class PredictorNode(LifecycleNode):
    """One sliding window per track; one forecast array per input frame."""

    def __init__(self, config_path=None, overrides=None, predictor=None, autostart=True):
        super().__init__(NODE_NAME, parameter_overrides=parameter_overrides(
            PARAMS, NODE_NAME, config_path, overrides))
        self._injected_predictor = predictor
        self.settings: PredictorSettings | None = None
        self.core: ForecastCore | None = None
        declare_parameters(self, PARAMS, self._why_parameters_wait)
        self.configure_error = ""
        self._active = False
        if autostart:
            self.start()

    @property
    def active(self) -> bool:
        return self._active

    @property
    def predictor(self):
        return self.core.predictor if self.core is not None else self._injected_predictor

    def start(self) -> None:
        """Configure and activate; raise with the reason if configuring was refused."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            raise ValueError(f"predictor node not configured: {self.configure_error}")
        self.trigger_activate()

    # -- lifecycle -------------------------------------------------------------------------
    def _why_parameters_wait(self) -> str:
        """Parameters are read when the node is configured; "" while it is not."""
        if self.core is None:
            return ""
        name = self.get_fully_qualified_name()
        return (f"the predictor node reads its parameters when it is configured, and it is "
                f"configured now: `ros2 lifecycle set {name} deactivate` (if active) and "
                f"`cleanup`, set NAME, then `configure` and `activate`")

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.settings = settings = settings_from(parameter_values(self, PARAMS))
            predictor = self._injected_predictor or make_predictor_from_params(
                settings.as_params())
            self.core = ForecastCore(predictor, settings)
            self.planner_outputs = PlannerOutputs(self, settings)
            if settings.warm_up:
                took_s = warm_up(predictor, self.core.horizons_s, settings.window_frames)
                self.get_logger().info(f"{predictor.name} warmed up in {took_s:.2f} s")
        except CONFIGURE_ERRORS as error:
            self.core = None  # still unconfigured: parameters can be set again
            self.configure_error = f"{type(error).__name__}: {error}"
            self.get_logger().error(f"refusing to start: {self.configure_error}")
            return TransitionCallbackReturn.FAILURE
        self._make_io(settings)
        self.get_logger().info(
            f"forecasting with {predictor.name} ({predictor.backend_description})"
            f" at {list(settings.horizons_s)} s; input {settings.skeletons_topic}; radius "
            f"{getattr(predictor, 'radius_note', 'not described')}; "
            + (f"plus the input's own error, up to {max(settings.input_error_m)} m "
               f"(input_error_m)" if any(settings.input_error_m)
               else "input taken as exact (input_error_m 0)"))
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._destroy_io()
        self.core = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        self._destroy_io()
        return TransitionCallbackReturn.SUCCESS

    def _make_io(self, s: PredictorSettings) -> None:
        self.drops = DropCounter(throttle_s=s.warn_throttle_s)
        self.age = LatencyWindow()  # stamp -> forecast published, by the node clock
        self.processing = LatencyWindow()  # callback start -> published
        self.predictor_latency = LatencyWindow()
        self.flow = FrameFlow()
        self.reported = ReportedTotals()
        self.live_coverage = (LiveCoverage(s.horizons_s, s.coverage_window_frames)
                              if s.coverage_window_frames else None)
        self._next_markers_s = 0.0
        self._forecast_pub = self.create_lifecycle_publisher(HumanForecastArray,
                                                             s.forecast_topic, 10)
        self._marker_pub = self.create_lifecycle_publisher(MarkerArray, s.markers_topic, 1)
        reliability = (ReliabilityPolicy.BEST_EFFORT if s.input_reliability == "best_effort"
                       else ReliabilityPolicy.RELIABLE)
        self._subscription = self.create_subscription(
            Skeleton3DArray, s.skeletons_topic, self.on_skeletons,
            QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=s.input_queue_depth,
                       reliability=reliability),
            event_callbacks=SubscriptionEventCallbacks(message_lost=self.flow.on_message_lost))
        self.diagnostics = DiagnosticsPublisher(self, "forecasting", s.diagnostics_period_s,
                                                self.report)

    def _destroy_io(self) -> None:
        for name in ("_subscription",):
            if getattr(self, name, None) is not None:
                self.destroy_subscription(getattr(self, name))
                setattr(self, name, None)
        for name in ("_forecast_pub", "_marker_pub"):
            if getattr(self, name, None) is not None:
                self.destroy_lifecycle_publisher(getattr(self, name))
                setattr(self, name, None)
        if getattr(self, "diagnostics", None) is not None:
            self.diagnostics.destroy()
            self.diagnostics = None
        if getattr(self, "planner_outputs", None) is not None:
            self.planner_outputs.destroy()
            self.planner_outputs = None

    # -- per frame -------------------------------------------------------------------------
    def on_skeletons(self, msg: Skeleton3DArray, info: dict) -> None:
        started_s = time.perf_counter()
        self.flow.received(info)
        if not self._active:
            self.flow.inactive += 1
            return
        core = self.core
        stamp = stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)
        if isinstance(stamp, Rejection):
            core.refuse(stamp)
            self._warn(stamp)
            return
        now_ns = self.get_clock().now().nanoseconds
        result = core.process(stamp, people_arrays(msg), now_ns)
        for event in result.events:
            self._warn(event)
        if not result.answered:
            return
        self._forecast_pub.publish(forecast_array_msg(
            msg.header, result.track_ids, result.forecast, core.horizons_s,
            result.predictor_names or core.predictor.name, core.predictor.model_id))
        self.age.add((self.get_clock().now().nanoseconds - stamp) * 1e-9)
        if result.track_ids:
            self.predictor_latency.add(result.predictor_s)
        self.planner_outputs.publish(msg.header, result.track_ids, result.forecast, core)
        self._publish_markers(msg.header, stamp, result)
        if self.live_coverage is not None:
            self.live_coverage.update(stamp, result.track_ids, result.forecast,
                                      core.tracker.windows)
        self.processing.add(time.perf_counter() - started_s)

    def _warn(self, event: Rejection) -> None:
        self.drops.warn(self.get_logger(), event.reason, event.detail,
                        routine=event.reason in ROUTINE)

    def _publish_markers(self, header, stamp: int, result) -> None:
        period_s = self.settings.markers_period_s
        now_s = time.monotonic()
        if (period_s <= 0 or now_s < self._next_markers_s
                or not self._marker_pub.get_subscription_count()):
            return
        self._next_markers_s = now_s + period_s
        windows = self.core.tracker.windows
        observed = {track_id: (w.positions_m[-1], w.observed[-1])
                    for track_id, w in windows.items() if w.newest_ns == stamp}
        forecast = result.forecast
        predicted = {track_id: forecast.positions[row]
                     for row, track_id in enumerate(result.track_ids)}
        radii = None if forecast is None or forecast.radius_m is None else {
            track_id: forecast.radius_m[row] for row, track_id in enumerate(result.track_ids)}
        self._marker_pub.publish(skeleton_markers(
            header, observed, predicted, self.core.horizons_s, lifetime_s=max(2 * period_s, 0.5),
            radii=radii, radius_horizon_s=self.settings.markers_radius_horizon_s))

    def report(self):
        return predictor_report(self)


def main(args=None) -> None:
    """The node program. ``--managed``: wait for a lifecycle manager (the launch file) to
    configure and activate it; without it the node brings itself up."""
    import sys

    argv = list(sys.argv if args is None else args)
    managed = "--managed" in argv
    spin_node_main(lambda: PredictorNode(autostart=not managed),
                   [a for a in argv if a != "--managed"])


if __name__ == "__main__":
    main()
