"""The warm-start study's bookkeeping, on synthetic streams and a tiny real model."""

from __future__ import annotations

import numpy as np
import torch

from nermo_ros.engine.factory import engine_for_program
from nermo_ros.engine.program import nermo_program
from nermo_ros.evaluation.warm_start import FUTURE_FRAMES, StudyRow, recommended_steps, stream_errors
from nermo_ros.meta import init_params
from nermo_ros.model import ModelConfig

TINY = ModelConfig(width=16, modulation_dim=8, codebook_size=4, num_blocks=1, num_heads=2,
                   fourier_levels=2)


def _streams(num: int, frames: int) -> np.ndarray:
    """People swaying their joints sinusoidally, 25 Hz, metres."""
    t = np.arange(frames)[None, :, None, None] * 0.04
    phase = np.random.default_rng(0).uniform(0, 6.28, size=(num, 1, TINY.num_joints, 3))
    return (0.3 * np.sin(2.0 * t + phase)).astype(np.float32)


def _engine(steps: int):
    gen = torch.Generator().manual_seed(0)
    params = {k: v + 0.05 * torch.randn(v.shape, generator=gen) for k, v in init_params(TINY).items()}
    return engine_for_program(nermo_program(params, TINY, steps, 6, FUTURE_FRAMES, (2,)), "torch", "cpu")


def test_without_adaptation_a_warm_start_is_a_cold_start():
    streams = _streams(2, 2 + 6 + 3 - 1 + FUTURE_FRAMES)
    engine = _engine(steps=0)
    cold = stream_errors(engine, TINY, streams, warm=False, lead_in=2, scored_frames=3)
    warm = stream_errors(engine, TINY, streams, warm=True, lead_in=2, scored_frames=3)
    np.testing.assert_allclose(warm, cold, atol=1e-6)
    assert cold.shape == (2, 3, FUTURE_FRAMES) and (cold > 0).all()


def test_a_warm_start_carries_the_previous_frames_modulation():
    streams = _streams(2, 2 + 6 + 3 - 1 + FUTURE_FRAMES)
    engine = _engine(steps=2)
    cold = stream_errors(engine, TINY, streams, warm=False, lead_in=2, scored_frames=3)
    warm = stream_errors(engine, TINY, streams, warm=True, lead_in=2, scored_frames=3)
    assert np.abs(warm - cold).max() > 1e-6


def test_the_default_steps_are_the_fewest_warm_steps_as_good_as_ten_cold_ones():
    rows = [StudyRow(1, 90, 0, ((1.0, 80, 0), (0.5, 78, 0))),
            StudyRow(2, 85, 0, ((1.0, 76, 0), (0.5, 70, 0))),
            StudyRow(10, 75, 0, ((1.0, 77, 0), (0.5, 60, 0)))]
    assert recommended_steps(rows) == (2, 0.5)
    assert recommended_steps(rows[:2]) is None  # no 10-step cold start to compare with


def test_a_blend_of_zero_restarts_every_frame_from_the_prior():
    streams = _streams(2, 2 + 6 + 3 - 1 + FUTURE_FRAMES)
    engine = _engine(steps=2)
    cold = stream_errors(engine, TINY, streams, warm=False, lead_in=2, scored_frames=3)
    restarted = stream_errors(engine, TINY, streams, warm=True, lead_in=2, scored_frames=3, blend=0.0)
    np.testing.assert_allclose(restarted, cold, atol=1e-6)
