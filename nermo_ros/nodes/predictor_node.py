"""Predictor node: Skeleton3DArray in, HumanForecastArray out on `human_forecast`, per frame.

Thin glue: each skeleton is validated and pushed into its track's window
(``nermo_ros.tracking``), the predictor forecasts every person of the frame in one batch, and
the node publishes the forecasts, markers at a limited rate, and `/diagnostics`. A bad input
is dropped, counted by reason and warned about (throttled); it never yields a forecast.
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from visualization_msgs.msg import MarkerArray

from nermo_ros.msg import HumanForecastArray, Skeleton3DArray
from nermo_ros.nodes.bringup import spin_node_main
from nermo_ros.nodes.diagnostics import (OK, WARN, DiagnosticReport, DiagnosticsPublisher,
                                         DropCounter, LatencyWindow)
from nermo_ros.nodes.markers import skeleton_markers
from nermo_ros.nodes.msg_convert import forecast_array_msg, people_arrays, stamp_to_ns
from nermo_ros.nodes.params import ParamSpec, declare_parameters, parameter_overrides
from nermo_ros.predictors.factory import make_predictor_from_params, warm_up
from nermo_ros.tracking.intake import FrameOutcome, take_frame
from nermo_ros.tracking.tracker import Tracker, TrackerSettings
from nermo_ros.tracking.validation import Reason, Rejection, check_stamp_age

NODE_NAME = "predictor"

PARAMS = (
    ParamSpec("skeletons_topic", "skeletons", "nermo_ros/Skeleton3DArray input topic"),
    ParamSpec("forecast_topic", "human_forecast", "nermo_ros/HumanForecastArray output topic, "
              "one message per input frame"),
    ParamSpec("markers_topic", "human_forecast/markers", "visualization_msgs/MarkerArray of "
              "observed and predicted skeletons"),
    ParamSpec("input_reliability", "best_effort", "QoS reliability of the input subscription: "
              "best_effort (sensor stream: a late frame is worth nothing) or reliable"),
    ParamSpec("input_queue_depth", 5, "Input frames kept waiting while one is processed"),
    ParamSpec("predictor", "nermo", "Forecaster: nermo, constant_velocity or "
              "zero_velocity"),
    ParamSpec("checkpoint", "", "NeRMo checkpoint file; empty: the model shipped in models/"),
    ParamSpec("backend", "auto", "NeRMo adapt-and-predict backend (auto picks the fastest "
              "available: tensorrt, cudagraph, onnxruntime, torch; inductor by name)"),
    ParamSpec("gpu_precision", "tf32", "Matrix products of the GPU backends: tf32 (tensor "
              "cores, about 30 % faster, forecasts within 2 mm) or fp32 (exact)"),
    ParamSpec("num_adapt_steps", 1, "NeRMo gradient steps fitting each person per frame; "
              "-1: the checkpoint's own setting"),
    ParamSpec("horizons_s", (0.08, 0.16, 0.24, 0.32, 0.4, 0.56, 0.72, 0.88, 1.0),
              "Forecast offsets in seconds after each frame, increasing, all > 0"),
    ParamSpec("window_s", 1.0, "Seconds of history per person given to the predictor"),
    ParamSpec("window_frames", 30, "Most frames of history per person (the window's array size)"),
    ParamSpec("min_frames", 2, "Frames a person needs in the window before being forecast"),
    ParamSpec("min_joint_confidence", 0.0, "A joint counts as observed when its confidence "
              "is above this"),
    ParamSpec("track_timeout_s", 1.0, "Forget a person unseen for this many seconds of stamps"),
    ParamSpec("time_jump_reset_s", 0.5, "A stamp this much older than a person's newest frame "
              "(a bag loop) starts the person over; smaller steps back are dropped"),
    ParamSpec("max_tracks", 16, "Most people tracked at once; more are dropped and counted"),
    ParamSpec("max_stamp_age_s", 1.0, "Drop frames whose stamp is older than this by the node "
              "clock; 0 disables (bag replay without use_sim_time)"),
    ParamSpec("warm_up", True, "Forecast a still person once at start, so that model "
              "compilation does not delay the first real person"),
    ParamSpec("markers_period_s", 0.1, "Seconds between marker arrays; 0 disables markers"),
    ParamSpec("diagnostics_period_s", 1.0, "Seconds between /diagnostics reports"),
    ParamSpec("warn_throttle_s", 5.0, "At most one warning per kind of bad input this often"),
)


def check_settings(p: dict) -> None:
    """Refuse settings that cannot work, naming the value and what to do."""
    horizons = np.asarray(p["horizons_s"], dtype=float)
    if horizons.size == 0 or (horizons <= 0).any() or (np.diff(horizons) <= 0).any():
        raise ValueError(f"horizons_s must be increasing and > 0, got {list(horizons)}")
    if p["input_reliability"] not in ("best_effort", "reliable"):
        raise ValueError(f"input_reliability must be best_effort or reliable, got "
                         f"{p['input_reliability']!r}")
    if p["min_frames"] < 1 or p["min_frames"] > p["window_frames"]:
        raise ValueError(f"min_frames={p['min_frames']} must be in 1..window_frames="
                         f"{p['window_frames']}")


class PredictorNode(Node):
    """One sliding window per track; one forecast array per input frame."""

    def __init__(self, config_path=None, overrides=None, predictor=None):
        super().__init__(NODE_NAME, parameter_overrides=parameter_overrides(
            PARAMS, NODE_NAME, config_path, overrides))
        self.settings = p = declare_parameters(self, PARAMS)
        check_settings(p)
        self.horizons_s = np.asarray(p["horizons_s"], dtype=np.float64)
        self.predictor = predictor or make_predictor_from_params(p)
        if p["warm_up"]:
            self._warm_up()
        self.tracker = Tracker(TrackerSettings(
            window_s=p["window_s"], window_frames=p["window_frames"],
            track_timeout_s=p["track_timeout_s"], time_jump_reset_s=p["time_jump_reset_s"],
            max_tracks=p["max_tracks"]))
        self.drops = DropCounter(throttle_s=p["warn_throttle_s"])
        self.latency = LatencyWindow()
        self.predictor_latency = LatencyWindow()
        self.frames_in = self.forecasts_out = self.arrays_out = 0
        self.resets = self.expired = 0
        self._next_markers_s = 0.0
        self._drops_reported = 0
        self._forecast_pub = self.create_publisher(HumanForecastArray, p["forecast_topic"], 10)
        self._marker_pub = self.create_publisher(MarkerArray, p["markers_topic"], 1)
        reliability = (ReliabilityPolicy.BEST_EFFORT if p["input_reliability"] == "best_effort"
                       else ReliabilityPolicy.RELIABLE)
        self.create_subscription(Skeleton3DArray, p["skeletons_topic"], self.on_skeletons,
                                 QoSProfile(history=HistoryPolicy.KEEP_LAST,
                                            depth=p["input_queue_depth"],
                                            reliability=reliability))
        self.diagnostics = DiagnosticsPublisher(self, "forecasting", p["diagnostics_period_s"],
                                                self.report)
        self.get_logger().info(f"forecasting with {self.predictor.name} at "
                               f"{list(self.horizons_s)} s; input {p['skeletons_topic']}")

    def _warm_up(self) -> None:
        try:
            took_s = warm_up(self.predictor, self.horizons_s, self.settings["window_frames"])
        except Exception as error:  # noqa: BLE001 - say which predictor and why, then stop
            raise RuntimeError(
                f"predictor {self.predictor.name!r} failed on a warm-up window "
                f"({type(error).__name__}: {error}); check its checkpoint and backend "
                f"parameters") from error
        self.get_logger().info(f"{self.predictor.name} warmed up in {took_s:.2f} s")

    def on_skeletons(self, msg: Skeleton3DArray) -> None:
        started_s = time.perf_counter()
        self.frames_in += 1
        stamp_ns = stamp_to_ns(msg.header.stamp)
        stale = check_stamp_age(stamp_ns, self.get_clock().now().nanoseconds,
                                self.settings["max_stamp_age_s"])
        if stale is not None:
            self._drop(stale)
            return
        outcome = take_frame(self.tracker, stamp_ns, people_arrays(msg),
                             self.settings["min_joint_confidence"], self.settings["min_frames"])
        self._count(outcome)
        if msg.skeletons and not outcome.accepted:
            return  # every skeleton was bad: no answer rather than "nobody is there"
        track_ids = outcome.ready
        forecast = self._predict(track_ids) if track_ids else None
        if track_ids and forecast is None:
            return  # the predictor failed: counted and warned, nothing published
        self._forecast_pub.publish(forecast_array_msg(
            msg.header, track_ids, forecast, self.horizons_s, self.predictor.name,
            self.predictor.model_id))
        self.arrays_out += 1
        self.forecasts_out += len(track_ids)
        self.latency.add(time.perf_counter() - started_s)
        self._publish_markers(msg.header, track_ids, forecast)

    def _count(self, outcome: FrameOutcome) -> None:
        """Warn about and count what the frame did besides filling windows."""
        for rejection in outcome.rejections:
            self._drop(rejection)
        for track_id in outcome.reset:
            self.resets += 1
            self.drops.warn(self.get_logger(), Reason.TIME_JUMP_BACKWARDS,
                            f"track {track_id!r} jumped back in time; its window was reset")
            self.predictor.reset_track(track_id)
        for track_id in outcome.expired:
            self.expired += 1
            self.predictor.reset_track(track_id)

    def _predict(self, track_ids: list[str]):
        started_s = time.perf_counter()
        try:
            forecast = self.predictor.predict(self.tracker.batch(track_ids), self.horizons_s)
        except Exception as error:  # noqa: BLE001 - a predictor bug must not stop the node
            self.drops.warn(self.get_logger(), "predictor_error",
                            f"{self.predictor.name} failed: {type(error).__name__}: {error}")
            return None
        self.predictor_latency.add(time.perf_counter() - started_s)
        return forecast

    def _drop(self, rejection: Rejection) -> None:
        self.drops.warn(self.get_logger(), rejection.reason, rejection.detail)

    def _publish_markers(self, header, track_ids: list[str], forecast) -> None:
        period_s = self.settings["markers_period_s"]
        now_s = time.monotonic()
        if period_s <= 0 or now_s < self._next_markers_s:
            return
        self._next_markers_s = now_s + period_s
        observed = {}
        for track_id, window in self.tracker.windows.items():
            if window.newest_ns == stamp_to_ns(header.stamp):
                observed[track_id] = (window.positions_m[-1], window.observed[-1])
        predicted = {track_id: forecast.positions[row] for row, track_id in enumerate(track_ids)}
        self._marker_pub.publish(skeleton_markers(header, observed, predicted, self.horizons_s,
                                                  lifetime_s=max(2 * period_s, 0.5)))

    def report(self) -> DiagnosticReport:
        latency_p50, latency_p99 = self.latency.percentiles_ms()
        predictor_p50, predictor_p99 = self.predictor_latency.percentiles_ms()
        drops = {reason: n for reason, n in sorted(self.drops.totals.items())
                 if reason != Reason.TIME_JUMP_BACKWARDS}
        values = {
            "predictor": self.predictor.name,
            "backend": getattr(self.predictor, "backend_description", ""),
            "frames_in_total": self.frames_in, "forecast_arrays_out_total": self.arrays_out,
            "forecasts_out_total": self.forecasts_out,
            "latency_p50_ms": latency_p50, "latency_p99_ms": latency_p99,
            "predictor_latency_p50_ms": predictor_p50, "predictor_latency_p99_ms": predictor_p99,
            "windows": len(self.tracker), "track_resets_total": self.resets,
            "tracks_expired_total": self.expired, "dropped_total": sum(drops.values()),
            **{f"dropped_{reason}_total": n for reason, n in drops.items()},
        }
        new_drops = sum(drops.values()) - self._drops_reported
        self._drops_reported += new_drops
        if new_drops:
            return DiagnosticReport(WARN, f"{new_drops} inputs dropped since the last report "
                                    f"(see dropped_*)", values)
        return DiagnosticReport(OK, f"{len(self.tracker)} people tracked", values)


def main(args=None) -> None:
    spin_node_main(PredictorNode, args)


if __name__ == "__main__":
    main()
