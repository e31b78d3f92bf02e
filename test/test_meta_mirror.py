"""The mirror average of adapt-and-predict: equivariant, blind to hidden entries, the window's
own z, refused without a mirror map, and never in training."""

import dataclasses

import pytest
import torch

from nermo_ros.evaluation.protocol import mirror_map
from nermo_ros.meta import adapt_and_predict, init_params, mirror_image
from nermo_ros.model import ModelConfig
from nermo_ros.training.config import TrainConfig
from nermo_ros.training.loop import nermo_loss
from nermo_ros.training.windows import Batch

SMALL = dict(width=16, modulation_dim=8, codebook_size=4, num_blocks=1, num_heads=2,
             fourier_levels=3)
LAYOUTS = {"nermo_body17": ModelConfig(num_joints=17, layout="nermo_body17", origin_joint=0,
                                       mirror_average=True, **SMALL),
           "cmu_protocol25": ModelConfig(num_joints=25, layout="cmu_protocol25", origin_joint=-1,
                                         mirror_average=True, **SMALL)}
B, T, Q = 3, 6, 4


def _params(cfg: ModelConfig, seed: int = 1) -> dict[str, torch.Tensor]:
    """Random weights, perturbed so that z and every joint matter."""
    gen = torch.Generator().manual_seed(seed)
    return {k: v + 0.05 * torch.randn(v.shape, generator=gen)
            for k, v in init_params(cfg, seed=seed).items()}


def _window(cfg: ModelConfig, seed: int = 0):
    """A lopsided window (no left-right symmetry) with about a fifth of the entries hidden."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.linspace(-0.3, 0.0, T).expand(B, T).contiguous()
    x = torch.randn(B, T, cfg.num_joints, 3, generator=gen)
    mask = torch.rand(B, T, cfg.num_joints, generator=gen) > 0.2
    q = torch.linspace(0.1, 0.5, Q).expand(B, Q).contiguous()
    return t, x, mask, q


def _swap(mask: torch.Tensor, layout: str) -> torch.Tensor:
    return mask[..., list(mirror_map(layout)[0])]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_mirror_averaged_forecast_of_a_mirrored_window_is_the_mirrored_forecast(layout):
    cfg = LAYOUTS[layout]
    params = _params(cfg)
    t, x, mask, q = _window(cfg)
    z0 = params["z0"].expand(B, -1)
    pred, _, recon = adapt_and_predict(params, t, x, mask, z0, q, steps=2, config=cfg)
    pred_m, _, recon_m = adapt_and_predict(params, t, mirror_image(x, layout), _swap(mask, layout),
                                           z0, q, steps=2, config=cfg)
    torch.testing.assert_close(mirror_image(pred_m, layout), pred, atol=2e-5, rtol=0)
    torch.testing.assert_close(mirror_image(recon_m, layout), recon, atol=2e-5, rtol=0)
    plain, _, _ = adapt_and_predict(params, t, x, mask, z0, q, steps=2,
                                    config=dataclasses.replace(cfg, mirror_average=False))
    assert (plain - pred).abs().max() > 1e-3  # the average is not the plain forecast


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_hidden_entries_cannot_change_the_mirror_average_even_as_nan(layout):
    cfg = LAYOUTS[layout]
    params = _params(cfg)
    t, x, mask, q = _window(cfg, seed=2)
    z_init = params["z0"].expand(B, -1) + 0.1
    poisoned = torch.where(mask[..., None], x, torch.full_like(x, float("nan")))
    shifted = torch.where(mask[..., None], x, x + 1e4)
    a = adapt_and_predict(params, t, poisoned, mask, z_init, q, steps=2, config=cfg)
    b = adapt_and_predict(params, t, shifted, mask, z_init, q, steps=2, config=cfg)
    for left, right in zip(a, b):
        assert torch.isfinite(left).all()
        torch.testing.assert_close(left, right, atol=1e-5, rtol=0)


@pytest.mark.parametrize("encoder_blocks", [0, 1])
def test_the_returned_z_is_the_windows_own_fit_from_its_own_start(encoder_blocks):
    """The mirror copy starts cold and is averaged away; z (the warm start of the next frame)
    is what the plain step returns for the caller's z_init."""
    cfg = dataclasses.replace(LAYOUTS["nermo_body17"], encoder_blocks=encoder_blocks,
                              encoder_frames=T, encoder_width=8)
    params = _params(cfg)
    t, x, mask, q = _window(cfg, seed=3)
    z_init = params["z0"].expand(B, -1) + 0.3 * torch.randn(B, cfg.modulation_dim)
    _, z, _ = adapt_and_predict(params, t, x, mask, z_init, q, steps=2, config=cfg)
    _, z_plain, _ = adapt_and_predict(params, t, x, mask, z_init, q, steps=2,
                                      config=dataclasses.replace(cfg, mirror_average=False))
    assert z.shape == (B, cfg.modulation_dim)
    torch.testing.assert_close(z, z_plain, atol=1e-5, rtol=0)


def test_a_mirror_average_for_a_layout_without_a_mirror_map_is_refused_at_once():
    with pytest.raises(ValueError, match="mirror_average needs a layout with a left-right "
                                         "mirror map.*unknown layout 'test4'"):
        ModelConfig(num_joints=4, layout="test4", mirror_average=True)
    with pytest.raises(ValueError, match="mirrors 17 joints, but the model has 4"):
        ModelConfig(num_joints=4, mirror_average=True)


def test_old_configs_without_the_setting_load_unmirrored():
    values = dataclasses.asdict(LAYOUTS["nermo_body17"])
    del values["mirror_average"]
    assert ModelConfig.from_dict(values).mirror_average is False
    assert "mirror_average" not in ModelConfig().shape_dict()  # weights are shared


def test_training_takes_one_unmirrored_pass_whatever_the_config_says():
    cfg = LAYOUTS["nermo_body17"]
    params = _params(cfg)
    t, x, mask, q = _window(cfg, seed=4)
    batch = Batch(t, x, mask.float(), q, x[:, -1:].expand(B, Q, -1, 3) + 0.1)
    losses = [nermo_loss(params, batch, TrainConfig(layout=cfg.layout, model=model), steps=2)
              for model in (cfg, dataclasses.replace(cfg, mirror_average=False))]
    assert float(losses[0]) == float(losses[1])
