"""Run a predictor over recorded skeleton frames through the node's own core, without DDS.

Every frame goes through ``ForecastCore.process`` (the predictor node's per-frame logic),
with the bag's record time as the clock, so the offline and live runs agree by construction.
The settings are the predictor node's parameters (config/predictor.yaml and overrides).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from nermo_ros.bag.messages import ForecastRecord, SkeletonFrame
from nermo_ros.forecasting.core import ForecastCore
from nermo_ros.forecasting.settings import NODE_NAME, PredictorSettings
from nermo_ros.predictors.base import Predictor
from nermo_ros.tracking.validation import Reason


def node_params(config_path: str | Path | None = None) -> dict[str, Any]:
    """The predictor node's parameters from its YAML (the package default when None)."""
    from nermo_ros.nodes.bringup import default_config
    from nermo_ros.parameters import load_parameter_file

    return load_parameter_file(config_path or default_config("predictor.yaml"), NODE_NAME)


@dataclass
class OfflineRun:
    """What the predictor produced, how long each frame took, and every counted event."""

    records: list[ForecastRecord] = field(default_factory=list)
    frame_latency_s: list[float] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # event reason -> how many
    frames: int = 0
    first_error: str = ""  # the first predictor failure, if any


def run_offline(frames: Iterable[SkeletonFrame], predictor: Predictor,
                settings: PredictorSettings) -> OfflineRun:
    """Feed frames in bag order; deterministic for a deterministic predictor."""
    core = ForecastCore(predictor, settings)
    run = OfflineRun()
    for frame in frames:
        started = time.perf_counter()
        result = core.process(frame.stamp_ns, frame.people, frame.log_ns or None)
        run.frame_latency_s.append(time.perf_counter() - started)
        run.first_error = run.first_error or next(
            (e.detail for e in result.events if e.reason == Reason.PREDICTOR_ERROR), "")
        for row, track_id in enumerate(result.track_ids):
            run.records.append(ForecastRecord(
                track_id, frame.stamp_ns, core.horizons_s.copy(),
                np.array(result.forecast.positions[row], dtype=np.float32),
                np.array(result.forecast.uncertainty_m[row], dtype=np.float32),
                result.predictor_names[row] if result.predictor_names else predictor.name,
                predictor.model_id,
                radius_m=(None if result.forecast.radius_m is None
                          else np.array(result.forecast.radius_m[row], dtype=np.float32)),
                coverage=result.forecast.coverage))
    run.frames = core.frames_in
    run.counts = core.counts
    return run
