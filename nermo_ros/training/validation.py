"""Validation at the end of training, on the split's validation trials; stored in the
checkpoint.

The per-horizon, per-joint error is what the predictor reports as its uncertainty, so it is
measured with the same protocol samples the benchmark uses. With ``data.split: all`` the
validation trials trained too: the figure is then optimistic, and the record says so.
"""

from __future__ import annotations

import torch

from nermo_ros.data import cmu
from nermo_ros.evaluation import benchmark, methods, protocol
from nermo_ros.model import ModelConfig
from nermo_ros.training.config import TrainConfig
from nermo_ros.training.loop import make_dct_mlp, training_files


def validate(weights: dict[str, torch.Tensor], cfg: TrainConfig) -> dict:
    """{"horizons_s", "mpjpe_m" (25,), "mpjpe_joint_m" (25, J), "samples", "trials", "split",
    "trained_on_validation_trials", ...}."""
    _, validation_trials = training_files(cfg)
    first = next(iter(validation_trials.values()))[0]
    skeleton = cmu.load_skeleton(cmu.find_skeleton_json(first.parent.parent))
    samples = benchmark.load_samples(validation_trials, skeleton, cfg.layout)
    if cfg.kind == "nermo":
        method = methods.nermo_method(weights, cfg.model, cfg.meta.eval_steps)
    else:
        net = make_dct_mlp(cfg)
        net.load_state_dict({k: v.detach().cpu() for k, v in weights.items()})
        method = methods.dct_mlp_method(net, ModelConfig.from_dict(cfg.model.to_dict()))
    per_joint = benchmark.complete_errors_m(samples, method)
    return {
        "horizons_s": methods.future_times_s().tolist(),
        "mpjpe_m": per_joint.mean(axis=1).tolist(),
        "mpjpe_joint_m": per_joint.tolist(),
        "protocol_horizons_ms": list(protocol.EVAL_HORIZONS_MS),
        "protocol_mpjpe_mm": (per_joint.mean(axis=1)[list(protocol.EVAL_FRAME_INDEX)] * 1000).tolist(),
        "samples": int(len(samples.actions)),
        "trials": sorted(str(p.name) for fs in validation_trials.values() for p in fs),
        "steps": int(cfg.meta.eval_steps) if cfg.kind == "nermo" else 0,
        "split": cfg.data.split,
        "trained_on_validation_trials": cfg.data.split == "all",
    }
