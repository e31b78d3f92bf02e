"""The forecasters the benchmark compares, each as a function WindowBatch -> (S, 25, J, 3)
metres: the predictor node's baselines, the DCT-MLP and NeRMo with a given number of steps,
with or without the mirror average and the node's hold of a jittery newest report."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import torch

from nermo_ros.checkpoint import Checkpoint
from nermo_ros.dct_mlp import DctMlp
from nermo_ros.evaluation import protocol
from nermo_ros.forecasting.report_hold import (DEFAULT_HOLD_JITTER_M, DEFAULT_HOLD_TIME_S,
                                               hold_newest_report)
from nermo_ros.meta import adapt_and_predict, prepare_arrays, restore
from nermo_ros.model import ModelConfig
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.predictors.baselines import ConstantVelocityPredictor, ZeroVelocityPredictor
from nermo_ros.training.config import DctMlpConfig

Method = Callable[[WindowBatch], np.ndarray]  # -> (S, 25, J, 3) metres

# Windows per forward pass: the meta-gradient of every step is held in memory at once.
BATCH_WINDOWS = {"cpu": 256, "cuda": 2048}


def window_batch(obs_m: np.ndarray, mask: np.ndarray) -> WindowBatch:
    t = obs_m.shape[1]
    times = (np.arange(t) - (t - 1)) * protocol.FRAME_PERIOD_S
    return WindowBatch(times_s=np.broadcast_to(times, obs_m.shape[:2]).copy(),
                       positions=np.where(mask[..., None], obs_m, 0.0), joint_mask=mask,
                       frame_valid=mask.any(axis=2), track_ids=[str(i) for i in range(len(obs_m))])


def future_times_s() -> np.ndarray:
    return np.arange(1, protocol.OUTPUT_FRAMES + 1) * protocol.FRAME_PERIOD_S


def velocity_method(predictor) -> Method:
    return lambda batch: predictor.predict(batch, future_times_s()).positions


def nermo_method(params: dict[str, torch.Tensor], cfg: ModelConfig, steps: int,
                 device: str = "cpu", max_age_s: float | None = None,
                 mirror: bool = False) -> Method:
    """``max_age_s``: frames older than this are not shown, as the predictor node does with
    the history a checkpoint was trained on (None: every frame of the window). ``mirror``:
    average with the mirror window's forecast (``ModelConfig.mirror_average``)."""
    cfg = replace(cfg, mirror_average=mirror)
    dev = torch.device(device)
    params = {k: v.detach().float().to(dev) for k, v in params.items()}
    batch_size = BATCH_WINDOWS[dev.type]

    def run(batch: WindowBatch) -> np.ndarray:
        valid = batch.frame_valid
        if max_age_s is not None:
            valid = valid & (batch.times_s >= -max_age_s)
        mask = batch.joint_mask & valid[..., None]
        prep = prepare_arrays(batch.times_s, batch.positions, mask, future_times_s(), cfg)
        out = []
        for i in range(0, len(mask), batch_size):
            sl = slice(i, i + batch_size)
            obs_t, obs_x, obs_mask, query_t = (a[sl].to(dev) for a in (
                prep.obs_t, prep.obs_x, prep.obs_mask, prep.query_t))
            z0 = params["z0"].expand(len(obs_t), -1)
            with torch.no_grad():
                pred, _, _ = adapt_and_predict(params, obs_t, obs_x, obs_mask, z0, query_t,
                                               steps=steps, config=cfg)
            out.append(restore(pred, prep.origin_m[sl], cfg))
        return np.concatenate(out)

    return run


def load_dct_mlp(ckpt: Checkpoint) -> tuple[DctMlp, ModelConfig]:
    """The network and the units (ModelConfig) it was trained in."""
    tc = ckpt.train_config
    window = tc["window"]
    net = DctMlp(ckpt.num_joints, window["obs_frames"], window["future_frames"],
                 DctMlpConfig(**tc["dct_mlp"]))
    net.load_state_dict(ckpt.params)
    return net.eval(), ModelConfig.from_dict(dict(tc["model"]))


def dct_mlp_method(net: DctMlp, cfg: ModelConfig, device: str = "cpu") -> Method:
    dev = torch.device(device)
    net = net.to(dev).eval()

    def run(batch: WindowBatch) -> np.ndarray:
        mask = batch.joint_mask & batch.frame_valid[..., None]
        prep = prepare_arrays(batch.times_s, batch.positions, mask, future_times_s(), cfg)
        with torch.no_grad():
            pred = net(prep.obs_x.to(dev), prep.obs_mask.to(dev))
        return restore(pred, prep.origin_m, cfg)

    return run


def baseline_methods() -> dict[str, Method]:
    return {"zero_velocity": velocity_method(ZeroVelocityPredictor()),
            "constant_velocity": velocity_method(ConstantVelocityPredictor())}


def held(method: Method, hold_time_s: float = DEFAULT_HOLD_TIME_S,
         hold_jitter_m: float = DEFAULT_HOLD_JITTER_M) -> Method:
    """``method`` with the predictor node's hold of a jittery newest report
    (``forecasting/report_hold.py``)."""
    return lambda batch: hold_newest_report(method(batch), batch, future_times_s(),
                                            hold_time_s, hold_jitter_m)


def levelled(method: Method, layout: str) -> Method:
    """``method`` reading each window with its mean spine stood upright and its forecast turned
    back, about the coordinates' origin (the protocol's windows are root-relative), as the
    predictor node's ``level_body`` does (``predictors/levelling.py``)."""
    from nermo_ros.predictors.levelling import rotate, spine_of, upright_rotations

    spine = spine_of(layout)

    def run(batch: WindowBatch) -> np.ndarray:
        turn = upright_rotations(batch, *spine)
        out = method(replace(batch, positions=rotate(batch.positions, turn)))
        return rotate(out, turn.transpose(0, 2, 1))

    return run


def checkpoint_methods(ckpt: Checkpoint, steps=(1, 3, 10), device: str = "cpu",
                       mirror: bool = False, hold: bool = False,
                       level: bool = False) -> dict[str, Method]:
    """``dct_mlp`` for a DCT-MLP checkpoint, ``nermo_<k>step`` for each k for a NeRMo one and,
    with ``mirror``, ``nermo_<k>step_mirror`` too (mirror-averaged); with ``level``, each NeRMo
    row also as ``<row>_level`` (the node's ``level_body``); with ``hold``, each NeRMo row
    also as ``<row>_hold`` (the node's default hold of a jittery newest report). NeRMo sees
    the history the node gives it: frames up to the checkpoint's trained window (plus the
    node's slack) old."""
    if ckpt.kind == "dct_mlp":
        return {"dct_mlp": dct_mlp_method(*load_dct_mlp(ckpt), device=device)}
    from nermo_ros.predictors.nermo import WINDOW_SLACK_S

    max_age_s = ckpt.obs_window_s + WINDOW_SLACK_S
    variants = {"": False, "_mirror": True} if mirror else {"": False}
    rows = {f"nermo_{k}step{suffix}": nermo_method(ckpt.params, ckpt.model_config, k, device,
                                                   max_age_s, mirrored)
            for k in steps for suffix, mirrored in variants.items()}
    if level:
        rows.update({f"{name}_level": levelled(method, ckpt.layout)
                     for name, method in list(rows.items())})
    if hold:  # the held row reuses its plain row's forecast of the same batch
        rows = {name: remember_last(method) for name, method in rows.items()}
        rows.update({f"{name}_hold": held(method) for name, method in list(rows.items())})
    return rows


def remember_last(method: Method) -> Method:
    """``method`` that returns its last result again when asked about the same batch object."""
    last: list = [None, None]

    def run(batch: WindowBatch) -> np.ndarray:
        if last[0] is not batch:  # holding the batch keeps its id from being reused
            last[:] = [batch, method(batch)]
        return last[1]

    return run


def all_methods(nermo: Checkpoint | None, dct: Checkpoint | None, steps=(1, 3, 10),
                device: str = "cpu", mirror: bool = False,
                hold: bool = False, level: bool = False) -> dict[str, Method]:
    methods = baseline_methods()
    for ckpt in (dct, nermo):
        if ckpt is not None:
            methods.update(checkpoint_methods(ckpt, steps, device, mirror, hold, level))
    return methods
