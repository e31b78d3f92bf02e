"""The NeRMo predictor on a compiled engine forecasts what it forecasts on eager PyTorch,
frame after frame, with each person's warm start kept apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nermo_ros.checkpoint import save_checkpoint
from nermo_ros.meta import init_params
from nermo_ros.model import ModelConfig
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.predictors.nermo import NermoPredictor
from nermo_ros.skeleton import LAYOUT_ID, NUM_JOINTS

TINY = ModelConfig(width=16, modulation_dim=8, codebook_size=4, num_blocks=1, num_heads=2,
                   fourier_levels=2)
HORIZONS_S = np.array([0.2, 0.6, 1.0])


def _checkpoint(path):
    gen = torch.Generator().manual_seed(0)
    params = {k: v + 0.05 * torch.randn(v.shape, generator=gen) for k, v in init_params(TINY).items()}
    error = np.outer(HORIZONS_S, np.ones(NUM_JOINTS)) * 0.1
    save_checkpoint(path, kind="nermo", layout=LAYOUT_ID, num_joints=NUM_JOINTS, params=params,
                    train_config={"window": {"obs_frames": 6}}, model_config=TINY,
                    default_steps=2, obs_window_s=0.4,
                    validation={"horizons_s": HORIZONS_S.tolist(), "mpjpe_joint_m": error.tolist()})
    return path


def _batch(track_ids, shift_s):
    rows = [{"a": 0, "b": 1}[t] for t in track_ids]
    times = np.tile(np.linspace(-0.4, 0.0, 6), (len(rows), 1))
    base = np.random.default_rng(5).normal(size=(2, 1, NUM_JOINTS, 3))[rows]
    pos = base + np.sin(3.0 * (times + shift_s))[..., None, None]
    mask = np.ones((len(rows), 6, NUM_JOINTS), bool)
    return WindowBatch(times, pos, mask, np.ones((len(rows), 6), bool), list(track_ids))


@pytest.mark.slow
def test_the_onnxruntime_engine_forecasts_as_eager_pytorch_over_a_stream(tmp_path, monkeypatch):
    monkeypatch.setenv("NERMO_CACHE_DIR", str(tmp_path / "cache"))
    path = _checkpoint(tmp_path / "tiny.pt")
    eager = NermoPredictor(path, backend="torch")
    compiled = NermoPredictor(path, backend="onnxruntime")
    # b skips the second frame: its warm start must still be its own first-frame z
    for frame, tracks in enumerate((["a", "b"], ["a"], ["b", "a"])):
        batch = _batch(tracks, shift_s=0.04 * frame)
        expected = eager.predict(batch, HORIZONS_S).positions
        got = compiled.predict(batch, HORIZONS_S).positions
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert compiled.backend_description.startswith("onnxruntime")
    for track in ("a", "b"):
        np.testing.assert_allclose(compiled.z_by_track[track], eager.z_by_track[track], atol=1e-5)
