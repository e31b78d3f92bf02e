"""Which NeRMo weights the engine commands compile: a checkpoint, or random weights to time."""

from __future__ import annotations

from pathlib import Path

from nermo_ros.model import ModelConfig


def load_nermo(checkpoint: str | Path | None = None):
    """(params, config, default_steps, model_id) of a NeRMo checkpoint (default: shipped)."""
    from nermo_ros.checkpoint import SHIPPED_DEFAULT, load_checkpoint

    ckpt = load_checkpoint(checkpoint or SHIPPED_DEFAULT, expect_kind="nermo")
    return ckpt.params, ckpt.model_config, ckpt.default_steps, ckpt.model_id


def load_model_or_random(checkpoint: str | None, random_weights: bool, seed: int = 0):
    """(params, config, description). Random weights of the default size time the same as
    trained ones, so latency can be measured before a model exists."""
    if random_weights:
        from nermo_ros.meta import init_params

        config = ModelConfig()
        return init_params(config, seed=seed), config, "random weights, default ModelConfig"
    params, config, _, model_id = load_nermo(checkpoint)
    return params, config, f"checkpoint {checkpoint or 'shipped default'} ({model_id})"
