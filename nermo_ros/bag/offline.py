"""Run a predictor over recorded skeleton frames exactly as the predictor node does, without DDS.

Per frame, the node's own rules (``nermo_ros.tracking.intake.take_frame``: expire, validate,
push, reset, ready), then one batch forecast of every ready track. The settings are the
predictor node's parameters (config/predictor.yaml), so the offline and live runs agree.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from nermo_ros.bag.messages import ForecastRecord, SkeletonFrame
from nermo_ros.predictors.base import Predictor
from nermo_ros.tracking.intake import take_frame
from nermo_ros.tracking.tracker import Tracker, TrackerSettings

# The predictor node parameters the offline run uses (names as in config/predictor.yaml).
USED_PARAMS = ("predictor", "horizons_s", "window_s", "window_frames", "min_frames",
               "min_joint_confidence", "track_timeout_s", "time_jump_reset_s", "max_tracks")


PREDICTOR_ERROR = "predictor_error"  # the node's drop reason for a failed predict call


@dataclass(frozen=True)
class ForecastSettings:
    horizons_s: tuple[float, ...] = (0.08, 0.16, 0.24, 0.32, 0.4, 0.56, 0.72, 0.88, 1.0)
    window_s: float = 1.0
    window_frames: int = 30
    min_frames: int = 2
    min_joint_confidence: float = 0.0
    track_timeout_s: float = 1.0
    time_jump_reset_s: float = 0.5
    max_tracks: int = 16

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ForecastSettings":
        known = {k: params[k] for k in cls.__dataclass_fields__ if k in params}
        if "horizons_s" in known:
            known["horizons_s"] = tuple(float(h) for h in known["horizons_s"])
        return cls(**known)

    def tracker_settings(self) -> TrackerSettings:
        return TrackerSettings(window_s=self.window_s, window_frames=self.window_frames,
                               track_timeout_s=self.track_timeout_s,
                               time_jump_reset_s=self.time_jump_reset_s,
                               max_tracks=self.max_tracks)


def node_params(config_path: str | Path | None = None) -> dict[str, Any]:
    """The predictor node's parameters from its YAML (the package default when None)."""
    from nermo_ros.nodes.bringup import default_config
    from nermo_ros.nodes.params import load_parameter_file

    return load_parameter_file(config_path or default_config("predictor.yaml"), "predictor")


@dataclass
class OfflineRun:
    """What the predictor produced, how long each frame took, and what was dropped why."""

    records: list[ForecastRecord] = field(default_factory=list)
    frame_latency_s: list[float] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)
    resets: int = 0  # tracks started over after a step back in time
    expired: int = 0  # tracks forgotten: unseen too long, or far from a jumped clock
    frames: int = 0
    first_error: str = ""  # the first predictor failure, if any


class FrameForecaster:
    """The node's per-frame logic on plain arrays: windows per track, one batch per frame."""

    def __init__(self, predictor: Predictor, settings: ForecastSettings):
        self.predictor = predictor
        self.settings = settings
        self.horizons_s = np.asarray(settings.horizons_s, dtype=np.float64)
        self.tracker = Tracker(settings.tracker_settings())

    def process(self, frame: SkeletonFrame, run: OfflineRun) -> None:
        run.frames += 1
        outcome = take_frame(self.tracker, frame.stamp_ns, frame.people,
                             self.settings.min_joint_confidence, self.settings.min_frames)
        for rejection in outcome.rejections:
            run.drops[rejection.reason] += 1
        for track_id in outcome.reset:
            run.resets += 1
            self.predictor.reset_track(track_id)
        for track_id in outcome.expired:
            run.expired += 1
            self.predictor.reset_track(track_id)
        ready = outcome.ready
        if not ready:
            return
        try:
            forecast = self.predictor.predict(self.tracker.batch(ready), self.horizons_s)
        except Exception as error:  # the node counts a failing predictor and goes on; so do we
            run.drops[PREDICTOR_ERROR] += len(ready)
            run.first_error = run.first_error or f"{type(error).__name__}: {error}"
            return
        for row, track_id in enumerate(ready):
            run.records.append(ForecastRecord(
                track_id, frame.stamp_ns, self.horizons_s.copy(),
                np.array(forecast.positions[row], dtype=np.float32),
                np.array(forecast.uncertainty_m[row], dtype=np.float32),
                self.predictor.name, self.predictor.model_id))


def run_offline(frames: Iterable[SkeletonFrame], predictor: Predictor,
                settings: ForecastSettings) -> OfflineRun:
    """Feed frames in bag order; deterministic for a deterministic predictor."""
    forecaster = FrameForecaster(predictor, settings)
    run = OfflineRun()
    for frame in frames:
        started = time.perf_counter()
        forecaster.process(frame, run)
        run.frame_latency_s.append(time.perf_counter() - started)
    return run
