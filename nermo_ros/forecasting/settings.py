"""The predictor's settings: one table, from which come the ROS parameters, config/predictor.yaml,
the docs' table, and the ``PredictorSettings`` that the core, the tracker and offline
evaluation read. Every value is range-checked when settings are made, so a setting that cannot
be honoured is refused at start with the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import field, fields, make_dataclass
from typing import Any, Mapping

from nermo_ros.parameters import (ParamSpec, at_least, between, check_values, coerce_value,
                                  increasing_positive, joint_distances, one_of)
from nermo_ros.forecasting.calibration import LEVELS
from nermo_ros.forecasting.report_hold import DEFAULT_HOLD_JITTER_M, DEFAULT_HOLD_TIME_S
from nermo_ros.forecasting.track_record import (DEFAULT_HALF_LIFE_S, DEFAULT_MARGIN,
                                                DEFAULT_MIN_SCORED, DEFAULT_RADIUS_RATE)
from nermo_ros.forecasting.view_level import (DEFAULT_MAX_TILT_DEG, DEFAULT_MIN_TILT_DEG,
                                              ViewLevelSettings)
from nermo_ros.forecasting.view_level import DEFAULT_HALF_LIFE_S as VIEW_HALF_LIFE_S
from nermo_ros.planning.settings import PLANNER_OUTPUT_PARAMS
from nermo_ros.predictors.base import DEFAULT_COVERAGE, DEFAULT_MIRROR_AVERAGE
from nermo_ros.predictors.factory import PREDICTOR_NAMES
from nermo_ros.predictors.levelling import DEFAULT_LEVEL_BODY
from nermo_ros.skeleton import JOINT_NAMES
from nermo_ros.tracking.tracker import TrackerSettings

NODE_NAME = "predictor"

def _backend(value: str) -> str | None:
    from nermo_ros.engine.select import BACKENDS  # torch: only when a backend is checked

    return one_of("auto", *BACKENDS)(value)


def _gpu_precision(value: str) -> str | None:
    from nermo_ros.engine.select import GPU_PRECISIONS

    return one_of(*GPU_PRECISIONS)(value)


def _not_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


PARAMS = (
    ParamSpec("skeletons_topic", "skeletons", "nermo_ros/Skeleton3DArray input topic",
              _not_empty),
    ParamSpec("forecast_topic", "human_forecast", "nermo_ros/HumanForecastArray output topic, "
              "one message per input frame", _not_empty),
    ParamSpec("markers_topic", "human_forecast/markers", "visualization_msgs/MarkerArray of "
              "observed and predicted skeletons", _not_empty),
    ParamSpec("input_reliability", "best_effort", "QoS reliability of the input subscription: "
              "best_effort (sensor stream: a late frame is worth nothing) or reliable",
              one_of("best_effort", "reliable")),
    ParamSpec("input_queue_depth", 1, "Input frames kept waiting while one is processed; 1: "
              "always the newest frame (bounded latency, skipped frames counted)", at_least(1)),
    ParamSpec("predictor", "nermo", "Forecaster: nermo, constant_velocity or zero_velocity",
              one_of(*PREDICTOR_NAMES)),
    ParamSpec("checkpoint", "", "NeRMo checkpoint file; empty: the model shipped in models/"),
    ParamSpec("backend", "auto", "NeRMo adapt-and-predict backend (auto picks the fastest "
              "available: tensorrt, cudagraph, onnxruntime, torch; inductor by name)", _backend),
    ParamSpec("gpu_precision", "tf32", "Matrix products of the GPU backends: tf32 (tensor "
              "cores, about 30 % faster, forecasts within 2 mm) or fp32 (exact)", _gpu_precision),
    ParamSpec("num_adapt_steps", 1, "NeRMo gradient steps fitting each person per frame",
              at_least(0)),
    ParamSpec("mirror_average", DEFAULT_MIRROR_AVERAGE, "NeRMo averages each forecast with "
              "the mirrored forecast of the person's left-right mirror image: 2-5 % lower error "
              "on held-out mocap for twice the engine time (off: 8 people at 30 Hz stay in "
              "budget); the shipped calibration covers both choices"),
    ParamSpec("hold_time_s", DEFAULT_HOLD_TIME_S, "NeRMo starts a jittery person's forecast at "
              "the newest report and hands over to the model with this time constant (s): "
              "a camera's error persists over frames, so its next reports stay near its "
              "newest (forecasting/report_hold.py); 0: never", at_least(0.0)),
    ParamSpec("hold_jitter_m", DEFAULT_HOLD_JITTER_M, "Observed jitter (m; RMS about a "
              "quadratic over the last 0.5 s, median over joints) at which the hold takes half "
              "the forecast, as jitter^4 / (jitter^4 + this^4): a clean walk shows about 14 mm "
              "(a tenth), MediaPipe on real video about 38 mm",
              at_least(0.0, inclusive=False)),
    ParamSpec("level_body", DEFAULT_LEVEL_BODY, "NeRMo reads each window with the person's "
              "mean spine turned upright and turns the forecast back, so a camera's tilt (or a "
              "frame whose z is not up) does not reach the model, which learned from upright "
              "mocap; the person's own lean is lost (predictors/levelling.py); calibrated for "
              "1 adaptation step. Needs level_view: false"),
    ParamSpec("level_view", True, "Turn every window by the view's tilt, estimated from "
              "everyone's spine over the last seconds, when it is at least "
              "level_view_min_tilt_deg, and the forecasts back: a pitched camera's people "
              "reach the model upright with their own lean kept (forecasting/view_level.py); "
              "the tilt is on /diagnostics either way; a level view is left exactly as it is. "
              "Not with level_body"),
    ParamSpec("level_view_half_life_s", VIEW_HALF_LIFE_S, "The view's tilt estimate's memory: "
              "a spine seen this many seconds ago counts half", at_least(0.0, inclusive=False)),
    ParamSpec("level_view_min_tilt_deg", DEFAULT_MIN_TILT_DEG, "level_view turns the view "
              "only when its estimated tilt is at least this (people's own mean lean over "
              "10 s in CMU's trials: 1-11 degrees, bending up to 29)", between(0.0, 90.0)),
    ParamSpec("level_view_max_tilt_deg", DEFAULT_MAX_TILT_DEG, "Spines tilted further than "
              "this from the frame's z (crawling, lying) are left out of the estimate, and a "
              "view estimated as tilted further is left as it is", between(0.0, 90.0)),
    ParamSpec("track_record", True, "Score each person's forecasts when their future arrives, "
              "for NeRMo and the two baselines alike, and at a horizon where a baseline has "
              "lately been clearly better for that person, publish the baseline's forecast "
              "there (motion unlike the training data: crawling, acrobatics, a fast run; "
              "forecasting/track_record.py); named in each forecast's predictor field, WARN "
              "on /diagnostics while in use. Applies to nermo only"),
    ParamSpec("track_record_half_life_s", DEFAULT_HALF_LIFE_S, "The track record's memory: "
              "a scored forecast counts half as much this many seconds later",
              at_least(0.0, inclusive=False)),
    ParamSpec("track_record_margin", DEFAULT_MARGIN, "A baseline takes a horizon when "
              "NeRMo's recent mean error there exceeds the baseline's by more than this share "
              "of it", at_least(0.0)),
    ParamSpec("track_record_min_scored", DEFAULT_MIN_SCORED, "Scored forecasts a person "
              "needs at a horizon before a baseline may take it", at_least(1)),
    ParamSpec("track_record_radius_rate", DEFAULT_RADIUS_RATE, "The track record also scores "
              "the published radius: per person and horizon it is multiplied by a factor "
              "that grows by exp(rate * (share of joints outside - (1 - coverage))) with each "
              "scored forecast and never falls below 1 (adaptive conformal prediction), so a "
              "person whose motion the calibration does not cover gets a radius that holds "
              "again within about a second; 0: the calibrated radius as it is",
              at_least(0.0)),
    ParamSpec("coverage", DEFAULT_COVERAGE, "Share of future joint positions the published "
              "radius_m holds, by calibration on held-out mocap", between(float(LEVELS[0]),
                                                                          float(LEVELS[-1]))),
    ParamSpec("input_error_m", (0.0,), "How far the input skeletons' joints may be from the "
              "person's (m): one value for every joint, or one per joint of the canonical "
              "skeleton; added to radius_m (its Gaussian reading to uncertainty_m, in "
              "quadrature), which the calibration sizes for the forecast's error about the "
              "input alone. 0: the input is taken as exact (mocap). One camera's MediaPipe "
              "skeleton without depth is 0.05-0.5 m off, by joint (docs/planners.md)",
              joint_distances(JOINT_NAMES)),
    ParamSpec("calibration", "", "NeRMo radius calibration file; empty: the checkpoint's "
              "<name>.calibration.json (if missing, radius_m is uncalibrated, coverage 0 in "
              "the messages, and /diagnostics warns)"),
    ParamSpec("horizons_s", (0.08, 0.16, 0.24, 0.32, 0.4, 0.56, 0.72, 0.88, 1.0),
              "Forecast offsets in seconds after each frame, increasing, all > 0",
              increasing_positive),
    ParamSpec("window_s", 1.0, "Seconds of history per person given to the predictor",
              at_least(0.0, inclusive=False)),
    ParamSpec("window_frames", 30, "Most frames of history per person (the window's array "
              "size)", at_least(1)),
    ParamSpec("min_frames", 2, "Frames a person needs in the window before being forecast",
              at_least(1)),
    ParamSpec("min_joint_confidence", 0.0, "A joint counts as observed when its confidence "
              "is above this (0 <= value < 1)", lambda v: None if 0.0 <= v < 1.0
              else "must be in [0, 1): confidences are at most 1"),
    ParamSpec("track_timeout_s", 1.0, "Forget a person unseen for this many seconds of stamps",
              at_least(0.0, inclusive=False)),
    ParamSpec("time_jump_reset_s", 0.5, "A stamp this much older than a person's newest frame "
              "(a bag loop) starts the person over; smaller steps back are dropped",
              at_least(0.0, inclusive=False)),
    ParamSpec("max_tracks", 16, "Most people tracked at once; a new person then takes the slot "
              "of the one seen least recently (counted as evicted)", at_least(1)),
    ParamSpec("max_stamp_age_s", 1.0, "Drop frames whose stamp is older than this by the node "
              "clock; 0 disables (bag replay without use_sim_time)", at_least(0.0)),
    ParamSpec("max_stamp_ahead_s", 0.5, "Drop frames stamped further than this ahead of the "
              "node clock (a wrong clock would expire everyone else); 0 disables",
              at_least(0.0)),
    ParamSpec("max_joint_speed_mps", 20.0, "Fastest plausible joint speed (m/s): a skeleton "
              "whose joints moved faster since the person's last frame is held back a frame "
              "(left out if the next one returns, else the person starts over from it), and "
              "no forecast may move a joint faster", at_least(0.0, inclusive=False)),
    ParamSpec("max_body_extent_m", 3.0, "Largest plausible extent of one skeleton (m) along "
              "any axis; larger ones are dropped", at_least(0.0, inclusive=False)),
    ParamSpec("max_distance_m", 100.0, "Joints further than this (m) from the frame's origin "
              "are implausible and the skeleton is dropped", at_least(0.0, inclusive=False)),
    ParamSpec("latency_budget_s", 0.1, "Diagnostics go to WARN when the age of a forecast "
              "(now - its frame's stamp) exceeds this at p99", at_least(0.0, inclusive=False)),
    ParamSpec("warm_up", True, "Forecast a still person once at start, so that model "
              "compilation does not delay the first real person"),
    ParamSpec("markers_period_s", 0.1, "Seconds between marker arrays; 0 disables markers",
              at_least(0.0)),
    ParamSpec("markers_radius_horizon_s", 1.0, "Markers draw a sphere of radius radius_m "
              "around each predicted joint at the horizon nearest to this; 0: at every "
              "horizon", at_least(0.0)),
    ParamSpec("coverage_window_frames", 300, "/diagnostics reports the share of future joint "
              "positions inside radius_m over this many of the latest frames whose forecast "
              "future has arrived; 0 disables", at_least(0)),
    ParamSpec("diagnostics_period_s", 1.0, "Seconds between /diagnostics reports",
              at_least(0.0, inclusive=False)),
    ParamSpec("warn_throttle_s", 5.0, "At most one warning per kind of bad input this often",
              at_least(0.0)),
    *PLANNER_OUTPUT_PARAMS,
)
_SPECS = {spec.name: spec for spec in PARAMS}


class _SettingsMethods:
    def tracker_settings(self) -> TrackerSettings:
        return TrackerSettings(window_s=self.window_s, window_frames=self.window_frames,
                               track_timeout_s=self.track_timeout_s,
                               time_jump_reset_s=self.time_jump_reset_s,
                               max_tracks=self.max_tracks,
                               max_joint_speed_mps=self.max_joint_speed_mps)

    def view_level_settings(self) -> ViewLevelSettings:
        return ViewLevelSettings(self.level_view_half_life_s, self.level_view_min_tilt_deg,
                                 self.level_view_max_tilt_deg)

    def as_params(self) -> dict[str, Any]:
        """name -> value, lists as lists (for ROS parameter overrides)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in fields(self)}

    def replace(self, **changes: Any) -> "PredictorSettings":
        return settings_from({**self.as_params(), **changes})


def _field(spec: ParamSpec):
    return (spec.name, type(spec.default), field(default=spec.default))


# One field per parameter, with the parameter's default: the table is the only place they live.
PredictorSettings = make_dataclass("PredictorSettings", [_field(s) for s in PARAMS],
                                   bases=(_SettingsMethods,), frozen=True)
PredictorSettings.__doc__ = "Every predictor parameter, range-checked (see ``settings_from``)."


def settings_from(values: Mapping[str, Any] | None = None) -> PredictorSettings:
    """Settings from parameter values (missing names take their defaults); ValueError naming
    every unknown, mistyped or out-of-range value."""
    values = dict(values or {})
    values.pop("use_sim_time", None)
    unknown = sorted(set(values) - set(_SPECS))
    if unknown:
        raise ValueError(f"unknown predictor parameter(s) {unknown}; known: {sorted(_SPECS)}")
    typed = {name: coerce_value(_SPECS[name], value) for name, value in values.items()}
    check_values(PARAMS, typed)
    merged = {spec.name: typed.get(spec.name, spec.default) for spec in PARAMS}
    if merged["min_frames"] > merged["window_frames"]:
        raise ValueError(f"refusing these settings: min_frames={merged['min_frames']} must be "
                         f"<= window_frames={merged['window_frames']}")
    if merged["level_view"] and merged["level_body"]:
        raise ValueError("refusing these settings: level_view and level_body both turn the "
                         "windows; choose one: level_view is on by default, so level_body: "
                         "true needs level_view: false (level_view keeps each person's own "
                         "lean)")
    if merged["level_view_min_tilt_deg"] > merged["level_view_max_tilt_deg"]:
        raise ValueError(f"refusing these settings: level_view_min_tilt_deg="
                         f"{merged['level_view_min_tilt_deg']} must be <= "
                         f"level_view_max_tilt_deg={merged['level_view_max_tilt_deg']}")
    for name in ("horizons_s", "input_error_m"):  # lists as tuples: settings compare by value
        merged[name] = tuple(float(v) for v in merged[name])
    return PredictorSettings(**merged)
