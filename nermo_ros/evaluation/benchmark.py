"""Run every method on the same protocol samples and the same missing-data masks.

Settings: complete observations, 20 % and 40 % of the observed (frame, joint) entries missing
at random, and 3 of the 9 older frames missing (the newest frame stays). Masks come from a
fixed seed, so every method and every run sees the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nermo_ros.checkpoint import Checkpoint
from nermo_ros.data import cmu
from nermo_ros.evaluation import protocol
from nermo_ros.dct_mlp import DctMlp
from nermo_ros.evaluation.metrics import mpjpe_per_frame
from nermo_ros.meta import adapt_and_predict, prepare_arrays, restore
from nermo_ros.model import ModelConfig
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.predictors.baselines import ConstantVelocityPredictor, ZeroVelocityPredictor
from nermo_ros.training.config import DctMlpConfig

MASK_SEED = 20240923


@dataclass(frozen=True)
class Setting:
    name: str
    joint_missing: float = 0.0  # fraction of (frame, joint) entries hidden
    frames_missing: int = 0  # older frames hidden


SETTINGS = (
    Setting("complete"),
    Setting("missing_joints_20", joint_missing=0.2),
    Setting("missing_joints_40", joint_missing=0.4),
    Setting("missing_frames_3of9", frames_missing=3),
)


@dataclass(frozen=True)
class Samples:
    """Protocol samples of one layout: positions (S, 35, J, 3) metres and their action names."""

    positions_m: np.ndarray
    actions: list[str]


def load_samples(trials: dict[str, list[Path]], skeleton: cmu.CmuSkeleton, layout: str) -> Samples:
    windows, actions = [], []
    for action, files in trials.items():
        for path in files:
            frames = cmu.read_expmap_file(path)[::cmu.PROTOCOL_DOWNSAMPLE]
            samples = protocol.sample_windows(protocol.trial_positions_m(frames, skeleton, layout))
            windows.append(samples)
            actions += [action] * len(samples)
    return Samples(np.concatenate(windows), actions)


def observation_mask(num_samples: int, num_joints: int, setting: Setting) -> np.ndarray:
    """(S, 10, J) bool, True = observed; the same for every method."""
    rng = np.random.RandomState(MASK_SEED + SETTINGS.index(setting))
    t = protocol.INPUT_FRAMES
    mask = rng.random_sample((num_samples, t, num_joints)) >= setting.joint_missing
    if setting.frames_missing:
        for s in range(num_samples):
            hidden = rng.choice(t - 1, size=setting.frames_missing, replace=False)
            mask[s, hidden] = False
    return mask


def window_batch(obs_m: np.ndarray, mask: np.ndarray) -> WindowBatch:
    t = obs_m.shape[1]
    times = (np.arange(t) - (t - 1)) * protocol.FRAME_PERIOD_S
    return WindowBatch(times_s=np.broadcast_to(times, obs_m.shape[:2]).copy(),
                       positions=np.where(mask[..., None], obs_m, 0.0), joint_mask=mask,
                       frame_valid=mask.any(axis=2), track_ids=[str(i) for i in range(len(obs_m))])


def future_times_s() -> np.ndarray:
    return np.arange(1, protocol.OUTPUT_FRAMES + 1) * protocol.FRAME_PERIOD_S


Method = Callable[[WindowBatch], np.ndarray]  # -> (S, 25, J, 3) metres


def velocity_method(predictor) -> Method:
    return lambda batch: predictor.predict(batch, future_times_s()).positions


def nermo_method(params: dict[str, torch.Tensor], cfg: ModelConfig, steps: int,
                 batch_size: int = 256) -> Method:
    params = {k: v.detach().float().cpu() for k, v in params.items()}

    def run(batch: WindowBatch) -> np.ndarray:
        mask = batch.joint_mask & batch.frame_valid[..., None]
        prep = prepare_arrays(batch.times_s, batch.positions, mask, future_times_s(), cfg)
        out = []
        for i in range(0, len(mask), batch_size):
            sl = slice(i, i + batch_size)
            z0 = params["z0"].expand(len(prep.obs_t[sl]), -1)
            with torch.no_grad():
                pred, _, _ = adapt_and_predict(params, prep.obs_t[sl], prep.obs_x[sl],
                                               prep.obs_mask[sl], z0, prep.query_t[sl],
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


def dct_mlp_method(net: DctMlp, cfg: ModelConfig) -> Method:
    net = net.cpu().eval()

    def run(batch: WindowBatch) -> np.ndarray:
        mask = batch.joint_mask & batch.frame_valid[..., None]
        prep = prepare_arrays(batch.times_s, batch.positions, mask, future_times_s(), cfg)
        with torch.no_grad():
            pred = net(prep.obs_x, prep.obs_mask)
        return restore(pred, prep.origin_m, cfg)

    return run


def complete_errors_m(samples: Samples, method: Method) -> np.ndarray:
    """(25, J) mean error in metres per future frame and joint, complete observations."""
    obs_m = samples.positions_m[:, :protocol.INPUT_FRAMES]
    mask = np.ones(obs_m.shape[:3], dtype=bool)
    pred = method(window_batch(obs_m, mask))
    return np.linalg.norm(pred - samples.positions_m[:, protocol.INPUT_FRAMES:], axis=-1).mean(axis=0)


def predict_all(samples: Samples, methods: dict[str, Method], settings=SETTINGS) -> dict:
    """{setting: {method: (S, 25, J, 3) forecast in metres}}, each method on the same masks."""
    obs_m = samples.positions_m[:, :protocol.INPUT_FRAMES]
    forecasts: dict = {}
    for setting in settings:
        batch = window_batch(obs_m, observation_mask(len(obs_m), obs_m.shape[2], setting))
        forecasts[setting.name] = {name: method(batch) for name, method in methods.items()}
    return forecasts


def score(samples: Samples, forecasts: dict, metric=mpjpe_per_frame) -> dict:
    """{setting: {method: {action: [mm at each protocol horizon]}}} plus per-method averages
    over actions under the key "average". ``metric(pred, target) -> (H,)`` per future frame."""
    future_m = samples.positions_m[:, protocol.INPUT_FRAMES:]
    actions = sorted(set(samples.actions))
    idx = list(protocol.EVAL_FRAME_INDEX)
    results: dict = {}
    for setting, per_method in forecasts.items():
        results[setting] = {}
        for name, pred in per_method.items():
            rows = {}
            for action in actions:
                sel = np.array([a == action for a in samples.actions])
                rows[action] = (metric(pred[sel], future_m[sel])[idx] * 1000).tolist()
            rows["average"] = np.mean([rows[a] for a in actions], axis=0).tolist()
            results[setting][name] = rows
    return results


def evaluate(samples: Samples, methods: dict[str, Method], settings=SETTINGS) -> dict:
    """MPJPE tables (see ``score``) of every method in every setting."""
    return score(samples, predict_all(samples, methods, settings))


def all_methods(nermo: Checkpoint | None, dct: Checkpoint | None, steps=(1, 3, 10)) -> dict[str, Method]:
    methods: dict[str, Method] = {
        "zero_velocity": velocity_method(ZeroVelocityPredictor()),
        "constant_velocity": velocity_method(ConstantVelocityPredictor()),
    }
    if dct is not None:
        methods["dct_mlp"] = dct_mlp_method(*load_dct_mlp(dct))
    if nermo is not None:
        for k in steps:
            methods[f"nermo_{k}step"] = nermo_method(nermo.params, nermo.model_config, k)
    return methods
