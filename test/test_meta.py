"""Adapt-and-predict: masking, the kinematic prior, inner and outer learning, units, tracing."""

import dataclasses

import numpy as np
import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

from nermo_ros.meta import (adapt_and_predict, fitted_slots, init_params, joint_velocity,
                            last_observed, prepare_arrays, restore)
from nermo_ros.model import ModelConfig
from nermo_ros.training.config import TrainConfig
from nermo_ros.training.loop import nermo_loss
from nermo_ros.training.windows import Batch

CFG = ModelConfig(num_joints=4, layout="test4", width=16, modulation_dim=8, codebook_size=4,
                  num_blocks=1, num_heads=2, fourier_levels=3, origin_joint=0)
B, T, Q, J = 3, 6, 5, 4


def _window(seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(-0.3, 0.0, T).expand(B, T).contiguous()
    phase = torch.rand(B, 1, J, 3, generator=g) * 6
    x = torch.sin(3 * t[..., None, None] + phase) + 0.2 * torch.randn(B, 1, J, 3, generator=g)
    q = torch.linspace(0.05, 0.5, Q).expand(B, Q).contiguous()
    return t, x, q


def _run(params, t, x, mask, q, steps):
    z0 = params["z0"].expand(B, -1)
    return adapt_and_predict(params, t, x, mask, z0, q, steps=steps, config=CFG)


def test_last_observed_takes_each_joints_newest_seen_frame():
    t = torch.tensor([[-2.0, -1.0, 0.0]])
    x = torch.arange(3.0).reshape(1, 3, 1, 1).expand(1, 3, 2, 3)
    mask = torch.tensor([[[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]]])
    t_last, pos = last_observed(t, x, mask)
    assert t_last.tolist() == [[0.0, -1.0]]
    assert pos[0, :, 0].tolist() == [2.0, 1.0]


def test_velocity_of_a_straight_line_is_exact_whatever_the_weights_and_gaps():
    t = torch.tensor([[-0.3, -0.2, -0.1, 0.0]])
    v = torch.tensor([1.0, -2.0, 0.5])
    x = (t[..., None, None] * v).expand(1, 4, 2, 3)
    mask = torch.tensor([[[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]])
    t_last, _ = last_observed(t, x, mask)
    for tau in (0.01, 0.1, 1e6):
        vel = joint_velocity(t, x, mask, t_last, torch.tensor(tau))
        assert torch.allclose(vel, v.expand(1, 2, 3), atol=1e-4)


def test_the_quadratic_fit_has_no_lag_on_an_accelerating_joint_and_falls_back_to_a_line():
    """x = v t + c t^2 has velocity v at t = 0: the parabola's slope gives it for any weights
    and gaps, the line's lags; a joint seen at two times gets the line's slope."""
    t = torch.tensor([[-0.36, -0.28, -0.2, -0.12, -0.08, -0.04, 0.0]])
    v, c = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([3.0, 1.0, -4.0])
    x = (t[..., None, None] * v + t[..., None, None] ** 2 * c).expand(1, 7, 3, 3)
    mask = torch.ones(1, 7, 3)
    mask[0, [1, 4], 0] = 0.0  # gaps
    mask[0, :5, 2] = 0.0  # joint 2: two sightings only
    t_last, _ = last_observed(t, x, mask)
    for tau in (0.03, 0.07, 1.0):
        quad = joint_velocity(t, x, mask, t_last, torch.tensor(tau), "quadratic")
        line = joint_velocity(t, x, mask, t_last, torch.tensor(tau))
        assert torch.allclose(quad[0, :2], v.expand(2, 3), atol=2e-3), (tau, quad)
        assert (line[0, :2] - v).abs().max() > 0.05  # the line's lag
        assert torch.allclose(quad[0, 2], line[0, 2])
    seen_once = torch.zeros(1, 7, 3)
    seen_once[0, -1] = 1.0
    assert torch.equal(joint_velocity(t, x, seen_once, t_last, torch.tensor(0.07), "quadratic"),
                       torch.zeros(1, 3, 3))


def test_the_velocity_fit_is_a_checked_setting():
    with pytest.raises(ValueError, match="velocity_fit must be 'linear' or 'quadratic'"):
        dataclasses.replace(CFG, velocity_fit="cubic")


def test_a_joint_seen_once_gets_no_velocity():
    t = torch.tensor([[-0.1, 0.0]])
    x = torch.ones(1, 2, 1, 3)
    mask = torch.tensor([[[0.0], [1.0]]])
    t_last, _ = last_observed(t, x, mask)
    assert torch.equal(joint_velocity(t, x, mask, t_last, torch.tensor(0.1)), torch.zeros(1, 1, 3))


def test_hidden_entries_cannot_change_the_forecast_even_as_nan():
    params = init_params(CFG, seed=1)
    t, x, q = _window()
    mask = torch.rand(B, T, J, generator=torch.Generator().manual_seed(2)) > 0.3
    mask[:, -1, 0] = True
    poisoned = torch.where(mask[..., None], x, torch.full_like(x, float("nan")))
    shifted = torch.where(mask[..., None], x, x + 100.0)
    for steps in (0, 2):
        a = _run(params, t, poisoned, mask, q, steps)
        b = _run(params, t, shifted, mask, q, steps)
        for left, right in zip(a, b):
            assert torch.isfinite(left).all()
            assert torch.allclose(left, right, atol=1e-5)


def test_adaptation_steps_lower_the_inner_loss_on_the_observed_frames():
    params = init_params(CFG, seed=3)
    params["log_inner_lr"] = torch.full_like(params["log_inner_lr"], float(np.log(2.0)))
    t, x, q = _window(seed=4)
    mask = torch.ones(B, T, J)
    # every frame observed: the inner loss is the mean squared reconstruction error
    losses = [float((_run(params, t, x, mask, q, k)[2] - x).square().sum(-1).mean()) for k in (0, 1, 3)]
    assert losses[1] < losses[0] and losses[2] < losses[1], losses


def test_fitted_slots_count_back_from_the_newest_frame():
    slots = lambda n, stride: list(range(n))[fitted_slots(n, stride)]  # noqa: E731
    assert slots(10, 1) == list(range(10))
    assert slots(10, 3) == [0, 3, 6, 9]
    assert slots(10, 4) == [1, 5, 9]
    assert slots(3, 5) == [2]


def test_a_strided_inner_loss_reads_only_its_slots():
    """Hiding every fitted slot leaves nothing to fit: z stays where it started, while the
    same window fitted on all slots moves it."""
    import dataclasses

    params = init_params(CFG, seed=3)
    t, x, q = _window(seed=4)
    z0 = params["z0"].expand(B, -1)
    mask = torch.ones(B, T, J)
    strided = dataclasses.replace(CFG, adapt_frame_stride=2)  # T = 6: slots 1, 3, 5
    mask[:, fitted_slots(T, 2)] = 0.0
    _, z_strided, _ = adapt_and_predict(params, t, x, mask, z0, q, steps=2, config=strided)
    _, z_all, _ = adapt_and_predict(params, t, x, mask, z0, q, steps=2, config=CFG)
    assert torch.equal(z_strided, z0)
    assert not torch.allclose(z_all, z0)


def test_one_meta_training_step_lowers_the_outer_loss_on_a_fixed_batch():
    cfg = TrainConfig(layout="test4", model=CFG)
    params = {k: v.requires_grad_(True) for k, v in init_params(CFG, seed=5).items()}
    t, x, q = _window(seed=6)
    future = torch.sin(3 * q[..., None, None] + x[:, -1:] * 0)
    batch = Batch(t, x, torch.ones(B, T, J), q, x[:, -1:].expand(B, Q, J, 3) + 0.1 * future)
    before = nermo_loss(params, batch, cfg, steps=2)
    before.backward()
    with torch.no_grad():
        for p in params.values():
            p -= 1e-3 * p.grad
    after = nermo_loss(params, batch, cfg, steps=2)
    assert float(after.detach()) < float(before.detach())


def test_prepare_and_restore_round_trip_metres_around_the_newest_origin_joint():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(2, T, J, 3))
    mask = np.ones((2, T, J), bool)
    mask[1, -1, 0] = False  # origin joint missing in the newest frame: use its last sighting
    times = np.tile(np.linspace(-0.25, 0, T), (2, 1))
    prep = prepare_arrays(times, pos, mask, np.array([0.1, 0.2]), CFG)
    assert np.allclose(prep.origin_m[0], pos[0, -1, 0])
    assert np.allclose(prep.origin_m[1], pos[1, -2, 0])
    back = restore(prep.obs_x, prep.origin_m, CFG)
    assert np.allclose(back[mask], pos[mask], atol=1e-5)
    assert np.allclose(prep.query_t.numpy(), [[0.1, 0.2]] * 2)


def test_adapt_and_predict_traces_to_a_static_graph_that_matches_eager():
    params = init_params(CFG, seed=7)
    t, x, q = _window(seed=8)
    mask = torch.ones(B, T, J)
    z0 = params["z0"].expand(B, -1).contiguous()

    def step(t, x, m, z, q):
        return adapt_and_predict(params, t, x, m, z, q, steps=2, config=CFG)

    graph = make_fx(step)(t, x, mask, z0, q)
    for traced, eager in zip(graph(t, x, mask, z0, q), step(t, x, mask, z0, q)):
        assert torch.allclose(traced, eager, atol=1e-5)
