"""Adapt-and-predict: fit a person's modulation to their window, then answer future times.

This module is the one home of the model's units: a window is expressed relative to its
newest observed origin-joint position (metres / ``position_unit_m``) and time relative to its
newest frame (seconds / ``time_unit_s``). ``prepare_window`` and ``restore`` convert; the
pure torch ``adapt_and_predict`` works in model units only and traces to static graphs
(make_fx of torch.func.grad, ONNX): fixed shapes for given (B, T, Q, J, steps), no
data-dependent Python control flow, no in-place ops.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call, grad

from nermo_ros.evaluation.protocol import mirror_map
from nermo_ros.model import ModelConfig, NermoModel, fourier_features
from nermo_ros.predictors.baselines import BaselineSettings
from nermo_ros.predictors.base import WindowBatch

Params = dict[str, Tensor]


@functools.lru_cache(maxsize=8)
def model_template(config: ModelConfig) -> NermoModel:
    """A module to run ``functional_call`` with given parameters (its own weights are unused)."""
    return NermoModel(config)


def init_params(config: ModelConfig, seed: int = 0) -> Params:
    """Freshly initialised generic parameters (including z0 and the inner learning rates)."""
    torch.manual_seed(seed)
    model = NermoModel(config)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


# Shape fields a later training stage may raise: the added blocks start as the identity.
GROWABLE_FIELDS = ("num_blocks", "encoder_blocks")
# The last layer of each residual branch (``model.Block``, ``history.MixBlock``): zero in an
# added block, so that the block passes its input through unchanged until training moves it.
_RESIDUAL_OUTPUTS = re.compile(r"^(encoder\.)?blocks\.\d+\.(code_out|space_out|mlp\.2|fc_t|fc_s\.2)\.")


def grow_params(params: Params, config: ModelConfig, seed: int = 0) -> Params:
    """The weights of a model with fewer blocks (``GROWABLE_FIELDS``) -> weights for
    ``config``: the known ones kept, the added blocks as the identity, so the grown model
    forecasts exactly as the old one did and a new training stage goes on from there."""
    fresh = init_params(config, seed)
    unknown = sorted(set(params) - set(fresh))
    if unknown:
        raise ValueError(f"grow_params: weights {unknown[:3]} have no place in the grown model")
    grown = {}
    for name, value in fresh.items():
        if name in params:
            if params[name].shape != value.shape:
                raise ValueError(f"grow_params: {name} has shape {tuple(params[name].shape)}, "
                                 f"the grown model needs {tuple(value.shape)}")
            grown[name] = params[name]
        else:
            grown[name] = torch.zeros_like(value) if _RESIDUAL_OUTPUTS.match(name) else value
    return grown


def last_observed(t: Tensor, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Each joint's newest observation: time (B, J) and position (B, J, 3).

    Frames are oldest first. Joints never observed get time 0 and position 0 (the origin).
    """
    n = mask.shape[1]
    later = torch.triu(torch.ones(n, n, dtype=mask.dtype, device=mask.device), diagonal=1)
    observed_later = torch.einsum("st,btj->bsj", later, mask)  # frames after s that saw j
    is_last = mask * (observed_later < 0.5).to(mask.dtype)
    return (is_last * t.unsqueeze(-1)).sum(dim=1), (is_last.unsqueeze(-1) * x).sum(dim=1)


def joint_velocity(t: Tensor, x: Tensor, mask: Tensor, t_last: Tensor, tau: Tensor,
                   fit: str = "linear") -> Tensor:
    """(B, J, 3) weighted least-squares velocity of each joint over its observations, weights
    decaying with age as exp((t - t_last) / tau) so that recent motion counts most (tau is
    learned); 0 with fewer than two distinct observation times. ``fit`` "quadratic" takes the
    slope at t_last of a weighted parabola instead of a line: a line's slope lags a motion that
    speeds up or turns by about the weights' mean age, a parabola's does not (it falls back to
    the line where a joint has fewer than three distinct observation times)."""
    w = _age_weights(t, mask, t_last, tau)  # (B, T, J)
    linear = _linear_velocity(t, x, w)
    return _quadratic_velocity(t, x, w, t_last, tau, linear) if fit == "quadratic" else linear


def _age_weights(t: Tensor, mask: Tensor, t_last: Tensor, tau: Tensor) -> Tensor:
    # The floor keeps old frames from vanishing in float32, so two sightings always give a slope.
    return mask * torch.clamp(torch.exp((t.unsqueeze(-1) - t_last.unsqueeze(1)) / tau), min=1e-3)


def _quadratic_velocity(t: Tensor, x: Tensor, w: Tensor, t_last: Tensor, tau: Tensor,
                        linear: Tensor) -> Tensor:
    """Slope at t_last of x ~ a + b d + c d^2 (d = (t - t_last) / tau, so that the moments stay
    of order 1 in float32), by Cramer's rule on the 3x3 normal equations: elementwise only,
    for the static graphs."""
    d = (t.unsqueeze(-1) - t_last.unsqueeze(1)) / tau  # (B, T, J)
    s0, s1, s2, s3, s4 = ((w * d ** k).sum(dim=1) for k in range(5))  # (B, J)
    m0, m1, m2 = ((w * d ** k).unsqueeze(-1).mul(x).sum(dim=1) for k in range(3))  # (B, J, 3)
    det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s2 * s3) + s2 * (s1 * s3 - s2 * s2)
    u = lambda a: a.unsqueeze(-1)  # noqa: E731
    det_b = u(s0) * (m1 * u(s4) - u(s3) * m2) - m0 * u(s1 * s4 - s2 * s3) + u(s2) * (u(s1) * m2 - u(s2) * m1)
    # Three distinct times give det > 0; fewer leave it at rounding level.
    curved = det > 1e-6 * torch.clamp(s0 * s2 * s4, min=1e-12)
    safe_det = torch.where(curved, det, torch.ones_like(det))
    return torch.where(u(curved), det_b / (u(safe_det) * tau), linear)


def _weighted_line(t: Tensor, x: Tensor, w: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Each joint's weighted least-squares line through its sightings: (t_mean (B, J),
    x_mean (B, J, 3), slope (B, J, 3)); a joint seen at one time only gets slope 0."""
    count = torch.clamp(w.sum(dim=1), min=1e-6)  # (B, J)
    t_mean = (w * t.unsqueeze(-1)).sum(dim=1) / count
    dt = t.unsqueeze(-1) - t_mean.unsqueeze(1)  # (B, T, J)
    x_mean = (w.unsqueeze(-1) * x).sum(dim=1) / count.unsqueeze(-1)
    spread = (w * dt.square()).sum(dim=1)  # (B, J)
    slope = ((w * dt).unsqueeze(-1) * (x - x_mean.unsqueeze(1))).sum(dim=1)
    has_spread = spread > 1e-10
    slope = torch.where(has_spread.unsqueeze(-1),
                        slope / torch.where(has_spread, spread, torch.ones_like(spread)).unsqueeze(-1),
                        torch.zeros_like(slope))
    return t_mean, x_mean, slope


def _linear_velocity(t: Tensor, x: Tensor, w: Tensor) -> Tensor:
    return _weighted_line(t, x, w)[2]


def velocity_tau(params: Params, config: ModelConfig) -> Tensor:
    """Age constant (model time) of the velocity fit; checkpoints without it fit uniformly."""
    if "log_velocity_tau" in params:
        return torch.exp(params["log_velocity_tau"])
    return torch.tensor(1.0e6, dtype=params["z0"].dtype, device=params["z0"].device)


def kinematic_prior(params: Params, config: ModelConfig, t: Tensor, t_last: Tensor,
                    anchor: Tensor, velocity: Tensor) -> Tensor:
    """(B, N, J, 3): each joint's last position moved on by its velocity for a learned,
    damped duration D(tau) = tau * (1 + w . gamma(tau)), tau = t - t_last (w = 0: constant
    velocity). The network models what this simple physics misses."""
    tau = t.unsqueeze(-1) - t_last.unsqueeze(1)  # (B, N, J)
    # A product and a sum, not a matrix-vector product: ONNX Runtime runs a MatMul with batch
    # dimensions and a 1-D weight on a slow path, and Inductor fuses this form.
    gain = 1.0 + (fourier_features(tau, config.fourier_levels) * params["prior_damping"]).sum(dim=-1)
    return anchor.unsqueeze(1) + (tau * gain).unsqueeze(-1) * velocity.unsqueeze(1)


def fitted_slots(num_frames: int, stride: int) -> slice:
    """The frame slots the inner loss fits: every ``stride``-th one counting back from the
    newest, which is always among them."""
    return slice((num_frames - 1) % stride, num_frames, stride)


def _predict(params: Params, config: ModelConfig, t: Tensor, z: Tensor, seen: Tensor) -> Tensor:
    return functional_call(model_template(config), params, (t, z, seen))


def encoded_guess(params: Params, config: ModelConfig, t: Tensor, x: Tensor, mask: Tensor) -> Tensor:
    """(B, M): the encoder's z for each window (zeros for a model without an encoder)."""
    if config.encoder_blocks == 0:
        return torch.zeros(x.shape[0], config.modulation_dim, dtype=x.dtype, device=x.device)
    if x.shape[1] != config.encoder_frames:
        raise ValueError(f"this NeRMo model reads windows of exactly {config.encoder_frames} "
                         f"frames, got {x.shape[1]}; pad or cut the window to its trained length")
    encoder = model_template(config).encoder
    sub = {k[len("encoder."):]: v for k, v in params.items() if k.startswith("encoder.")}
    return functional_call(encoder, sub, (t, x, mask))


def adapt_and_predict(
    params: Params,
    obs_t: Tensor,
    obs_x: Tensor,
    obs_mask: Tensor,
    z_init: Tensor,
    query_t: Tensor,
    *,
    steps: int,
    config: ModelConfig,
) -> tuple[Tensor, Tensor, Tensor]:
    """``steps`` gradient steps on z (only) on the observed entries of the fitted frame slots
    (``fitted_slots``: all of them unless the config strides), then forecast.

    obs_t (B, T), obs_x (B, T, J, 3), obs_mask (B, T, J) (bool or 0/1 float), z_init (B, M),
    query_t (B, Q); model units. With an encoder, z_init is an offset from the encoder's guess
    and the returned z is too (the adapted correction, which the next frame can warm-start
    from); without one, z is the modulation itself. Returns pred (B, Q, J, 3), the adapted z
    (B, M), and the reconstruction of the observed frames (B, T, J, 3). Unobserved entries
    (even NaN) have no influence on z, pred or the attention.

    With ``config.mirror_average`` the window's mirror image (``mirror_image``) is adapted
    too, from the cold start z0, in the same pass (the batch doubled, so one static graph):
    pred and recon are the mean of the window's and the unmirrored mirror's, which lowered
    the cross-validated error by 3-5 % at every horizon. z is the window's own fit.
    """
    if not config.mirror_average:
        return _adapt_and_predict(params, obs_t, obs_x, obs_mask, z_init, query_t,
                                  steps=steps, config=config)
    b = obs_x.shape[0]
    both = lambda real, mirror: torch.cat([real, mirror], dim=0)  # noqa: E731
    pred, z, recon = _adapt_and_predict(
        params, both(obs_t, obs_t), both(obs_x, mirror_image(obs_x, config.layout)),
        both(obs_mask, swap_sides(obs_mask, config.layout, dim=-1)),  # masks move with joints
        both(z_init, params["z0"].expand_as(z_init)), both(query_t, query_t),
        steps=steps, config=config)
    pred = 0.5 * (pred[:b] + mirror_image(pred[b:], config.layout))
    recon = 0.5 * (recon[:b] + mirror_image(recon[b:], config.layout))
    return pred, z[:b], recon


def mirror_image(positions: Tensor, layout: str) -> Tensor:
    """(..., J, 3) -> the left-right mirror image (``protocol.mirror_map``): left and right
    joints swapped, the lateral coordinate negated; its own inverse. In a window the origin
    lies on the body's midline (the root joint, or root-centred data), so mirroring about it
    mirrors the person."""
    _, axis = mirror_map(layout)
    swapped = swap_sides(positions, layout, dim=-2)
    parts = (swapped[..., :axis], -swapped[..., axis:axis + 1], swapped[..., axis + 1:])
    return torch.cat([part for part in parts if part.shape[-1] > 0], dim=-1)


def swap_sides(values: Tensor, layout: str, dim: int) -> Tensor:
    """The joints along ``dim`` in their mirror order. Written as slices of runs of
    neighbouring joints, not an index tensor: a traced graph must hold no tensor constants
    (make_fx keeps them as attributes, which the ONNX export loses)."""
    return torch.cat([values.narrow(dim, start, length) for start, length in _mirror_runs(layout)],
                     dim=dim)


@functools.lru_cache(maxsize=4)
def _mirror_runs(layout: str) -> tuple[tuple[int, int], ...]:
    """The mirror permutation as (first joint, count) runs of consecutive joints."""
    perm, _ = mirror_map(layout)
    runs = [[perm[0], 1]]
    for previous, joint in zip(perm, perm[1:]):
        if joint == previous + 1:
            runs[-1][1] += 1
        else:
            runs.append([joint, 1])
    return tuple((start, length) for start, length in runs)


def _adapt_and_predict(params: Params, obs_t: Tensor, obs_x: Tensor, obs_mask: Tensor,
                       z_init: Tensor, query_t: Tensor, *, steps: int,
                       config: ModelConfig) -> tuple[Tensor, Tensor, Tensor]:
    """``adapt_and_predict`` without the mirror average."""
    mask = obs_mask.to(obs_x.dtype)
    observed = mask.unsqueeze(-1) > 0.5
    x = torch.where(observed, obs_x, torch.zeros_like(obs_x))
    frame_seen = mask.sum(dim=2) > 0.5
    t_obs = torch.where(frame_seen, obs_t, torch.zeros_like(obs_t))
    t_last, anchor = last_observed(t_obs, x, mask)
    velocity = joint_velocity(t_obs, x, mask, t_last, velocity_tau(params, config), config.velocity_fit)
    seen = torch.clamp(mask.sum(dim=1), max=1.0)  # (B, J)
    prior_obs = kinematic_prior(params, config, t_obs, t_last, anchor, velocity)
    target = torch.where(observed, x - prior_obs, torch.zeros_like(x))
    fit = fitted_slots(obs_t.shape[1], config.adapt_frame_stride)
    t_fit, target_fit, mask_fit = t_obs[:, fit], target[:, fit], mask[:, fit]
    count = torch.clamp(mask_fit.sum(dim=(1, 2)), min=1.0)

    def inner_loss(z: Tensor) -> Tensor:
        err = (_predict(params, config, t_fit, z, seen) - target_fit).square().sum(dim=-1)
        per_person = (err * mask_fit).sum(dim=(1, 2)) / count
        return per_person.sum()  # people are independent: d/dz_b sees only person b

    guess = encoded_guess(params, config, t_obs, x, mask)
    z = guess + z_init
    lr = torch.exp(params["log_inner_lr"])
    for _ in range(steps):
        z = z - lr * grad(inner_loss)(z)
    q = query_t.shape[1]
    t_all = torch.cat([query_t, t_obs], dim=1)
    out = _predict(params, config, t_all, z, seen)
    out = out + kinematic_prior(params, config, t_all, t_last, anchor, velocity)
    pred = out[:, :q]
    if config.velocity_blend > 0.0:
        pred = blend_recent_line(pred, t_obs, x, mask, t_last, query_t, config)
    return pred, z - guess, out[:, q:]


# The constant-velocity baseline's line: sightings this close (seconds) to a joint's newest.
RECENT_LINE_WINDOW_S = BaselineSettings().velocity_window_s


def recent_line_forecast(t: Tensor, x: Tensor, mask: Tensor, t_last: Tensor, query_t: Tensor,
                         window: float) -> Tensor:
    """(B, Q, J, 3): each joint's least-squares line over its sightings within ``window`` of
    its newest one, extended to ``query_t``: the constant-velocity baseline
    (``predictors/baselines.py``) in model units. Unseen joints stay at the origin."""
    # The small tolerance keeps a frame exactly ``window`` old in, as float64 seconds do.
    recent = t.unsqueeze(-1) >= t_last.unsqueeze(1) - (window + 1e-4)
    w = mask * recent.to(mask.dtype)  # (B, T, J)
    t_mean, x_mean, slope = _weighted_line(t, x, w)
    lead = query_t.unsqueeze(-1) - t_mean.unsqueeze(1)  # (B, Q, J)
    return x_mean.unsqueeze(1) + lead.unsqueeze(-1) * slope.unsqueeze(1)


def blend_recent_line(pred: Tensor, t: Tensor, x: Tensor, mask: Tensor, t_last: Tensor,
                      query_t: Tensor, config: ModelConfig) -> Tensor:
    """``pred`` (B, Q, J, 3) mixed with the constant-velocity forecast, its share
    ``velocity_blend * exp(-h / velocity_blend_time_s)`` at horizon h; joints never seen in the
    window keep ``pred``. The network's short-horizon forecast and the line err differently,
    so a little of the line lowers the cross-validated error at 80-400 ms (BENCHMARKS.md)."""
    line = recent_line_forecast(t, x, mask, t_last, query_t,
                                RECENT_LINE_WINDOW_S / config.time_unit_s)
    share = config.velocity_blend * torch.exp(
        -torch.clamp(query_t, min=0.0) * (config.time_unit_s / config.velocity_blend_time_s))
    seen = (mask.sum(dim=1) > 0.5).to(pred.dtype)  # (B, J)
    weight = share.unsqueeze(-1) * seen.unsqueeze(1)  # (B, Q, J)
    return pred + weight.unsqueeze(-1) * (line - pred)


# --- numpy side: real units <-> model units ------------------------------------------------


@dataclass(frozen=True)
class PreparedWindow:
    """Model-unit tensors for ``adapt_and_predict`` plus what ``restore`` needs."""

    obs_t: Tensor  # (B, T)
    obs_x: Tensor  # (B, T, J, 3)
    obs_mask: Tensor  # (B, T, J) float 0/1
    query_t: Tensor  # (B, Q)
    origin_m: np.ndarray  # (B, 3) metres, the window origin in the observation frame


def window_origin_m(positions_m: np.ndarray, mask: np.ndarray, origin_joint: int) -> np.ndarray:
    """(B, 3): newest observed position of ``origin_joint``; else the mean of the newest frame
    with any observation; zeros when ``origin_joint`` is -1 or nothing was observed."""
    b = positions_m.shape[0]
    if origin_joint < 0:
        return np.zeros((b, 3))
    t = positions_m.shape[1]
    frame_idx = np.arange(t)
    joint_seen = mask[:, :, origin_joint]
    last_joint = np.where(joint_seen, frame_idx, -1).max(axis=1)
    any_seen = mask.any(axis=2)
    last_any = np.where(any_seen, frame_idx, -1).max(axis=1)
    rows = np.arange(b)
    from_joint = positions_m[rows, np.maximum(last_joint, 0), origin_joint]
    frame_mask = mask[rows, np.maximum(last_any, 0)][..., None]
    frame_pos = np.where(frame_mask, positions_m[rows, np.maximum(last_any, 0)], 0.0)
    frame_mean = frame_pos.sum(axis=1) / np.maximum(frame_mask.sum(axis=1), 1)
    origin = np.where((last_joint >= 0)[:, None], from_joint, frame_mean)
    return np.where((last_any >= 0)[:, None], origin, 0.0)


def to_model_positions(positions_m: np.ndarray, origin_m: np.ndarray, config: ModelConfig) -> np.ndarray:
    """(B, ..., J, 3) metres -> model units relative to each window's origin (B, 3)."""
    shape = (origin_m.shape[0],) + (1,) * (positions_m.ndim - 2) + (3,)
    return (positions_m - origin_m.reshape(shape)) / config.position_unit_m


def to_model_time(times_s: np.ndarray, config: ModelConfig) -> np.ndarray:
    return np.asarray(times_s) / config.time_unit_s


def prepare_arrays(
    times_s: np.ndarray, positions_m: np.ndarray, mask: np.ndarray, horizons_s: np.ndarray,
    config: ModelConfig,
) -> PreparedWindow:
    """Window arrays in metres/seconds (newest frame at t = 0) -> model-unit tensors."""
    mask = np.asarray(mask, dtype=bool)
    positions_m = np.where(mask[..., None], positions_m, 0.0)
    origin = window_origin_m(positions_m, mask, config.origin_joint)
    x = np.where(mask[..., None], to_model_positions(positions_m, origin, config), 0.0)
    t = np.where(mask.any(axis=2), to_model_time(times_s, config), 0.0)
    b = positions_m.shape[0]
    query = np.broadcast_to(to_model_time(np.asarray(horizons_s, dtype=np.float64), config), (b, len(horizons_s)))
    as_tensor = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731
    return PreparedWindow(as_tensor(t), as_tensor(x), as_tensor(mask), as_tensor(query), origin)


def prepare_window(batch: WindowBatch, horizons_s: np.ndarray, config: ModelConfig) -> PreparedWindow:
    """A predictor's WindowBatch -> model-unit tensors (padding frames count as unobserved)."""
    mask = np.asarray(batch.joint_mask, dtype=bool) & np.asarray(batch.frame_valid, dtype=bool)[..., None]
    return prepare_arrays(batch.times_s, batch.positions, mask, horizons_s, config)


def restore(pred: Tensor | np.ndarray, origin_m: np.ndarray, config: ModelConfig) -> np.ndarray:
    """Model-unit positions (B, ..., J, 3) -> metres in the observation frame."""
    arr = pred.detach().cpu().numpy() if isinstance(pred, Tensor) else np.asarray(pred)
    shape = (origin_m.shape[0],) + (1,) * (arr.ndim - 2) + (3,)
    return arr.astype(np.float64) * config.position_unit_m + origin_m.reshape(shape)
