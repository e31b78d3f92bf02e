"""What every backend compiles: the pure adapt-and-predict function, its weights and shapes.

A backend never sees the model's internals, only an ``AdaptProgram``: a function
``(params, obs_t, obs_x, obs_mask, z_init, query_t) -> (pred, z, recon)`` with the number of
adaptation steps already bound, the weights, and the static shapes (window length T, query
count Q, joints J, modulation size M). The batch dimension is served in fixed buckets so that
compiled graphs (CUDA graphs, TensorRT engines) are built once per bucket, never per call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

INPUT_NAMES: tuple[str, ...] = ("obs_t", "obs_x", "obs_mask", "z_init", "query_t")
OUTPUT_NAMES: tuple[str, ...] = ("pred", "z", "recon")
DEFAULT_BUCKETS: tuple[int, ...] = (1, 2, 4, 8, 16)

Params = dict[str, Tensor]
AdaptFunction = Callable[..., tuple[Tensor, Tensor, Tensor]]


@dataclass(frozen=True)
class EngineSpec:
    """Static shapes of one compiled adapt-and-predict step (all arrays float32)."""

    window_frames: int  # T
    num_queries: int  # Q
    num_joints: int  # J
    modulation_dim: int  # M
    steps: int  # K gradient steps on z, unrolled
    buckets: tuple[int, ...] = DEFAULT_BUCKETS

    def __post_init__(self) -> None:
        sizes = (self.window_frames, self.num_queries, self.num_joints, self.modulation_dim)
        if min(sizes) < 1 or self.steps < 0:
            raise ValueError(f"EngineSpec needs T, Q, J, M >= 1 and steps >= 0, got {self}")
        if not self.buckets or list(self.buckets) != sorted(set(self.buckets)) or self.buckets[0] < 1:
            raise ValueError(f"buckets must be increasing positive sizes, got {self.buckets}")

    def input_shapes(self, batch: int) -> tuple[tuple[int, ...], ...]:
        t, q, j, m = self.window_frames, self.num_queries, self.num_joints, self.modulation_dim
        return (batch, t), (batch, t, j, 3), (batch, t, j), (batch, m), (batch, q)

    def output_shapes(self, batch: int) -> tuple[tuple[int, ...], ...]:
        t, q, j, m = self.window_frames, self.num_queries, self.num_joints, self.modulation_dim
        return (batch, q, j, 3), (batch, m), (batch, t, j, 3)

    def shapes(self) -> dict:
        """What fixes one bucket's graph (the other buckets do not)."""
        return {"T": self.window_frames, "Q": self.num_queries, "J": self.num_joints,
                "M": self.modulation_dim, "steps": self.steps}

    def describe(self) -> dict:
        return {**self.shapes(), "buckets": list(self.buckets)}


@dataclass(frozen=True)
class AdaptProgram:
    """The pure function, its weights, its shapes, and a hash naming the weights."""

    function: AdaptFunction  # (params, obs_t, obs_x, obs_mask, z_init, query_t), steps bound
    params: Params
    spec: EngineSpec
    model_hash: str

    def call(self, params: Params, *inputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.function(params, *inputs)

    def params_on(self, device: torch.device | str) -> Params:
        return {name: p.detach().to(device=device, dtype=torch.float32).contiguous()
                for name, p in self.params.items()}


def params_hash(params: Params) -> str:
    """sha256 over names, shapes and float32 bytes: the identity of a set of weights."""
    digest = hashlib.sha256()
    for name in sorted(params):
        value = params[name].detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}:{tuple(value.shape)};".encode())
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()


def example_inputs(spec: EngineSpec, batch: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """A plausible window (model units): smooth joint tracks, ~10 % of joints missing.

    Used to trace, to warm up and to check a compiled backend against eager PyTorch.
    """
    rng = np.random.default_rng(seed)
    t, q, j, m = spec.window_frames, spec.num_queries, spec.num_joints, spec.modulation_dim
    obs_t = np.broadcast_to(np.linspace(-1.0, 0.0, t, dtype=np.float32), (batch, t)).copy()
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(batch, 1, j, 3))
    amplitude = rng.uniform(0.5, 3.0, size=(batch, 1, j, 3))
    obs_x = amplitude * np.sin(2.0 * np.pi * obs_t[:, :, None, None] + phase)
    obs_mask = (rng.random((batch, t, j)) > 0.1).astype(np.float32)
    obs_mask[:, -1] = 1.0  # the newest frame is complete, as after a fresh detection
    z_init = (0.1 * rng.standard_normal((batch, m))).astype(np.float32)
    query_t = np.broadcast_to(np.linspace(0.1, 1.0, q, dtype=np.float32), (batch, q)).copy()
    return obs_t, obs_x.astype(np.float32), obs_mask, z_init, query_t
