"""Benchmark windows as a camera would deliver them: the measured perception noise injected
into the observed frames and their timing; the future stays clean.

A window keeps its newest observed frame (the protocol's frame 10) and its 25 future frames.
Its 10 observed frames are taken at the camera's rate before that newest frame, interpolated
linearly between the trial's 25 Hz frames, so at 10 Hz they reach 0.9 s back and at 30 Hz
0.3 s. A frame before the trial's start counts as missed (the person was not yet in view).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nermo_ros.evaluation import protocol
from nermo_ros.evaluation.perception_noise import PerceptionNoise, corrupt, frame_times_s
from nermo_ros.predictors.base import WindowBatch

NOISE_SEED = 20261129


def clean_positions_at(samples, capture_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((S, T, J, 3) metres, (S, T) available) at ``capture_s`` (S, T) seconds relative to each
    window's newest observed frame; not available before the window's trial starts."""
    newest = samples.starts + protocol.INPUT_FRAMES - 1
    first = samples.first_frames()
    index = newest[:, None] + capture_s / protocol.FRAME_PERIOD_S
    available = index >= first[:, None] - 1e-6
    index = np.clip(index, first[:, None], newest[:, None])
    low = np.floor(index + 1e-9).astype(np.int64)
    frac = (index - low)[..., None, None]
    high = np.minimum(low + 1, newest[:, None])
    frames = samples.frames_m
    return (1.0 - frac) * frames[low] + frac * frames[high], available


def noisy_batch(samples, noise: PerceptionNoise, rate_hz: float, seed: int) -> WindowBatch:
    """Every window of ``samples`` observed at ``rate_hz`` through ``noise`` (one draw, fixed
    by ``seed``)."""
    gen = torch.Generator().manual_seed(seed)
    count = len(samples)
    rates = torch.full((count,), float(rate_hz), dtype=torch.float64)
    capture, stamps = frame_times_s(rates, protocol.INPUT_FRAMES, noise.timestamp_jitter_s, gen)
    clean, available = clean_positions_at(samples, capture.numpy())
    seen = corrupt(torch.from_numpy(clean), 1.0 / rates, noise, gen)
    frame_valid = seen.frame_valid.numpy() & available
    frame_valid[:, -1] = True
    joint_mask = seen.joint_mask.numpy() & frame_valid[..., None]
    positions = np.where(joint_mask[..., None], seen.positions_m.numpy(), 0.0)
    return WindowBatch(times_s=stamps.numpy(), positions=positions, joint_mask=joint_mask,
                       frame_valid=frame_valid, track_ids=[str(i) for i in range(count)])


def slice_batch(batch: WindowBatch, index: slice) -> WindowBatch:
    return WindowBatch(batch.times_s[index], batch.positions[index], batch.joint_mask[index],
                       batch.frame_valid[index], list(batch.track_ids[index]))


@dataclass(frozen=True)
class NoiseSetting:
    """A benchmark setting (``benchmark.sample_errors``): the noise at one camera rate."""

    name: str
    noise: PerceptionNoise
    rate_hz: float
    seed: int

    def observer(self, samples):
        """slice of windows -> their noisy observed WindowBatch (drawn once for all)."""
        batch = noisy_batch(samples, self.noise, self.rate_hz, self.seed)
        return lambda index: slice_batch(batch, index)


def noise_settings(noise: PerceptionNoise) -> tuple[NoiseSetting, ...]:
    """One setting per camera rate of the noise model, ``perception_noise_<rate>hz``."""
    return tuple(NoiseSetting(f"perception_noise_{rate:g}hz", noise, rate, NOISE_SEED + k)
                 for k, rate in enumerate(noise.frame_rates_hz))
