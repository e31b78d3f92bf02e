"""The NeRMo adapt-and-predict step as an AdaptProgram: weights, K and shapes bound."""

from __future__ import annotations

import functools
import hashlib
import json

from nermo_ros.engine.spec import DEFAULT_BUCKETS, AdaptProgram, EngineSpec, Params, params_hash
from nermo_ros.meta import adapt_and_predict
from nermo_ros.model import ModelConfig


def nermo_program(
    params: Params, config: ModelConfig, steps: int, window_frames: int, num_queries: int,
    buckets: tuple[int, ...] = DEFAULT_BUCKETS,
) -> AdaptProgram:
    """``nermo_ros.meta.adapt_and_predict`` with these weights, ``steps`` and shapes."""
    spec = EngineSpec(window_frames=window_frames, num_queries=num_queries,
                      num_joints=config.num_joints, modulation_dim=config.modulation_dim,
                      steps=steps, buckets=tuple(buckets))
    digest = hashlib.sha256(params_hash(params).encode())
    digest.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    function = functools.partial(adapt_and_predict, steps=steps, config=config)
    return AdaptProgram(function=function, params=dict(params), spec=spec,
                        model_hash=digest.hexdigest())
