"""Build a predictor by name, as the `predictor` parameter names it."""

from __future__ import annotations

import inspect
import time
from typing import Any

import numpy as np

from nermo_ros.predictors.base import Predictor, WindowBatch
from nermo_ros.skeleton import NUM_JOINTS

PREDICTOR_NAMES = ("nermo", "constant_velocity", "zero_velocity")


def make_predictor(name: str, **settings: Any) -> Predictor:
    """``settings`` go to the NeRMo predictor (checkpoint, backend, adaptation steps...).

    The baselines take only ``coverage`` and ignore the rest, so one node configuration can
    switch predictors by name alone.
    """
    if name == "zero_velocity":
        from nermo_ros.predictors.baselines import ZeroVelocityPredictor

        return ZeroVelocityPredictor(**accepted_settings(ZeroVelocityPredictor, settings))
    if name == "constant_velocity":
        from nermo_ros.predictors.baselines import ConstantVelocityPredictor

        return ConstantVelocityPredictor(**accepted_settings(ConstantVelocityPredictor, settings))
    if name == "nermo":
        try:
            from nermo_ros.predictors.nermo import NermoPredictor
        except ModuleNotFoundError as error:
            if error.name and error.name.startswith("nermo_ros"):
                raise ValueError(
                    "predictor 'nermo' is not available in this checkout "
                    f"({error.name} is missing); choose the predictor constant_velocity or "
                    "zero_velocity") from error
            raise
        return NermoPredictor(**accepted_settings(NermoPredictor, settings))
    raise ValueError(f"unknown predictor {name!r}; choose one of {', '.join(PREDICTOR_NAMES)}")


def accepted_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings ``cls`` takes as keyword arguments (all of them if it takes **kwargs).

    The node passes every setting a learned predictor may need (checkpoint, backend,
    gpu_precision, num_adapt_steps, mirror_average, window_frames, horizons_s, coverage,
    calibration); a predictor takes those it uses.
    """
    parameters = inspect.signature(cls).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(settings)
    names = {p.name for p in parameters}
    return {key: value for key, value in settings.items() if key in names}


WARM_UP_TRACK = "__warm_up__"


def warm_up(predictor: Predictor, horizons_s: np.ndarray, window_frames: int,
            frame_interval_s: float = 1 / 30) -> float:
    """Run one forecast on a still person so that compilation (ONNX, TensorRT, CUDA graphs)
    happens now, not on the first real person; return how long it took, in seconds."""
    times_s = -frame_interval_s * np.arange(window_frames - 1, -1, -1, dtype=np.float64)
    positions = np.zeros((1, window_frames, NUM_JOINTS, 3), np.float32)
    positions[..., 2] = np.linspace(0.0, 1.7, NUM_JOINTS, dtype=np.float32)  # a vertical body
    batch = WindowBatch(times_s=times_s[None], positions=positions,
                        joint_mask=np.ones((1, window_frames, NUM_JOINTS), bool),
                        frame_valid=np.ones((1, window_frames), bool), track_ids=[WARM_UP_TRACK])
    started_s = time.perf_counter()
    predictor.predict(batch, np.asarray(horizons_s, dtype=np.float64))
    predictor.reset_track(WARM_UP_TRACK)
    return time.perf_counter() - started_s


def make_predictor_from_params(params: dict[str, Any]) -> Predictor:
    """The predictor the predictor node's parameters (config/predictor.yaml) describe.

    One home for this mapping, so the node and the offline bag evaluation build the same thing.
    ``num_adapt_steps`` is required and passed as it is (the node's default lives in its
    parameter table); the NeRMo predictor refuses a negative one. With ``horizons_s`` the
    NeRMo predictor builds its engine now, and a GPU backend on a machine without a GPU runs
    on the CPU (its ``fallback_reason`` says so).
    """
    settings = {"checkpoint": params.get("checkpoint", ""),
                "backend": params.get("backend", "auto"),
                "num_adapt_steps": params["num_adapt_steps"],
                "window_frames": params["window_frames"],
                "horizons_s": tuple(params["horizons_s"])}
    for name in ("coverage", "calibration", "mirror_average", "hold_time_s",
                 "hold_jitter_m", "level_body"):  # else the predictor's default
        if name in params:
            settings[name] = params[name]
    if "gpu_precision" in params:  # else the predictor's own default
        settings["gpu_precision"] = params["gpu_precision"]
    return make_predictor(params["predictor"], **settings)
