"""The forecast loss's horizon weighting (meta.horizon_weight_power): near frames gain weight,
the mean stays 1, and the training loss really uses it."""

import pytest
import torch

from nermo_ros.evaluation.metrics import horizon_weights, mpjpe_loss
from nermo_ros.training.config import config_from_dict


def test_weights_fall_with_the_horizon_and_keep_a_mean_of_one():
    t = torch.tensor([[0.04, 0.08, 0.4, 1.0], [0.02, 0.04, 0.2, 0.5]])  # two speeds
    w = horizon_weights(t, 0.5)
    assert torch.allclose(w.mean(dim=1), torch.ones(2))
    assert (w[:, :-1] > w[:, 1:]).all()
    assert w[0, 0] / w[0, -1] == pytest.approx(25.0 ** 0.5, rel=1e-5)
    assert torch.allclose(w[0], w[1])  # relative to each window's own last frame
    assert torch.allclose(horizon_weights(t, 0.0), torch.ones_like(t))


def test_a_floor_keeps_a_share_for_the_far_frames_and_the_mean_at_one():
    t = (torch.arange(1, 26, dtype=torch.float32) * 0.04).unsqueeze(0)
    steep, floored = horizon_weights(t, 2.0), horizon_weights(t, 2.0, 0.25)
    assert float(floored.mean()) == pytest.approx(1.0)
    assert (floored[:, :-1] > floored[:, 1:]).all()
    assert float(floored[0, -1]) > 5.0 * float(steep[0, -1])
    assert float(floored[0, 0]) > 0.7 * float(steep[0, 0])
    assert torch.allclose(horizon_weights(t, 2.0, 0.0), steep)
    with pytest.raises(ValueError, match="horizon_weight_floor must be >= 0"):
        config_from_dict({"meta": {"horizon_weight_floor": -0.1}})


def test_the_weighted_loss_counts_an_error_at_the_first_frame_more_than_at_the_last():
    t = (torch.arange(1, 26, dtype=torch.float32) * 0.04).unsqueeze(0)
    w = horizon_weights(t, 0.5)
    target = torch.zeros(1, 25, 3, 3)
    early, late = target.clone(), target.clone()
    early[:, 0, :, 0] = 1.0
    late[:, -1, :, 0] = 1.0
    assert mpjpe_loss(early, target) == pytest.approx(float(mpjpe_loss(late, target)))
    assert float(mpjpe_loss(early, target, w)) > 3.0 * float(mpjpe_loss(late, target, w))


def test_a_negative_power_is_refused_and_the_stage_three_configs_weigh_the_near_frames():
    with pytest.raises(ValueError, match="horizon_weight_power must be >= 0"):
        config_from_dict({"meta": {"horizon_weight_power": -1.0}})
    from pathlib import Path

    from nermo_ros.training.config import load_config

    config = Path(__file__).resolve().parents[1] / "config"
    for name in ("train_cmu25_cv_stage3.yaml", "train_body17_camera_stage3.yaml"):
        assert load_config(config / name).meta.horizon_weight_power == 0.5
    assert load_config(config / "train_cmu25_cv_stage2.yaml").meta.horizon_weight_power == 0.0


def test_the_training_loss_applies_the_configured_weighting():
    from nermo_ros.meta import adapt_and_predict, init_params
    from nermo_ros.training.loop import nermo_loss
    from nermo_ros.training.windows import Batch

    cfg = config_from_dict({"model": {"num_joints": 17, "width": 16, "modulation_dim": 8,
                                      "codebook_size": 4, "num_blocks": 1, "num_heads": 2}})
    weighted = config_from_dict({**cfg.to_dict(), "meta": {"horizon_weight_power": 1.0}})
    params = init_params(cfg.model)
    gen = torch.Generator().manual_seed(0)
    obs_t = (torch.arange(10, dtype=torch.float32) - 9).unsqueeze(0) * 0.04
    fut_t = torch.arange(1, 26, dtype=torch.float32).unsqueeze(0) * 0.04
    batch = Batch(obs_t, torch.randn(1, 10, 17, 3, generator=gen), torch.ones(1, 10, 17), fut_t,
                  torch.randn(1, 25, 17, 3, generator=gen))
    pred, _, recon = adapt_and_predict(params, batch.obs_t, batch.obs_x, batch.obs_mask,
                                       params["z0"].expand(1, -1), fut_t, steps=1,
                                       config=cfg.model)
    recon_term = 0.1 * mpjpe_loss(recon, batch.obs_x)
    plain = mpjpe_loss(pred, batch.fut_x) + recon_term
    by_horizon = mpjpe_loss(pred, batch.fut_x, horizon_weights(fut_t, 1.0)) + recon_term
    assert float(nermo_loss(params, batch, cfg, 1)) == pytest.approx(float(plain), rel=1e-5)
    assert float(nermo_loss(params, batch, weighted, 1)) == pytest.approx(float(by_horizon),
                                                                         rel=1e-5)
    assert abs(float(by_horizon) - float(plain)) > 1e-4
