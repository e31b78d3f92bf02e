"""Zero-velocity and constant-velocity forecasts: the baselines every learned model must beat.

Both read each joint's own observations (a joint missing from the newest frame is forecast
from its last sighting, with the extra time added to its horizon) and report an uncertainty
that grows with the horizon from what the window shows: the fit's residual noise, how fast the
joint moves (for zero velocity, which ignores it) and a typical human acceleration that no
velocity model can foresee. A joint never observed in the window sits at the body centre with
``unobserved_sigma_m``.

``uncertainty_m`` is a per-axis 1-sigma, as the NeRMo predictor reports it: the terms above
estimate the RMS 3D error, which for an isotropic Gaussian is sqrt(3) sigma. On held-out CMU
mocap and the pybullet walk, sqrt(3) times the reported sigma is 0.7 to 2 times the RMS error
from 80 ms to 1 s (erring on the safe side; test/test_tracking_baselines.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.forecasting.calibration import gaussian_radius_factor
from nermo_ros.predictors.base import DEFAULT_COVERAGE, ForecastBatch, WindowBatch

RMS_3D_PER_AXIS_SIGMA = float(np.sqrt(3.0))  # RMS length of an isotropic 3D Gaussian / sigma


@dataclass(frozen=True)
class BaselineSettings:
    velocity_window_s: float = 0.1  # frames this close to a joint's last sighting fit its velocity
    accel_sigma_mps2: float = 2.0  # unforeseen acceleration of a joint at rest (1 sigma)...
    speed_change_sigma_mps: float = 0.5  # ...until its speed has changed by about this much
    motion_rate_hz: float = 1.0  # a moving joint's speed changes ~2 pi this often per second
    noise_floor_m: float = 0.01  # smallest position noise assumed, even for a perfect fit
    unobserved_sigma_m: float = 1.0  # per-axis sigma of a joint with no sighting in the window
    unknown_speed_sigma_mps: float = 1.0  # speed uncertainty of a joint seen only once


@dataclass(frozen=True)
class JointFit:
    """Per person and joint: the line p(t) = centre + velocity * (t - t_centre) of its sightings,
    and its newest sighting."""

    centre_m: np.ndarray  # (B, J, 3)
    t_centre_s: np.ndarray  # (B, J)
    velocity_mps: np.ndarray  # (B, J, 3)
    velocity_sigma_mps: np.ndarray  # (B, J)
    noise_m: np.ndarray  # (B, J)
    seen: np.ndarray  # (B, J) bool
    last_s: np.ndarray  # (B, J) time of the newest sighting (s, <= 0; 0 if none)
    last_m: np.ndarray  # (B, J, 3) its position (0 if none)


@dataclass(frozen=True)
class Sightings:
    """What every line fit of one batch reads: which joints were seen when, and where (hidden
    entries zeroed, they may be NaN). Built once, it serves fits over several windows."""

    mask: np.ndarray  # (B, T, J) bool
    times_s: np.ndarray  # (B, T, 1)
    positions: np.ndarray  # (B, T, J, 3)
    seen: np.ndarray  # (B, J)
    last_s: np.ndarray  # (B, J) as last_sightings: the newest, frames being oldest first
    last_m: np.ndarray  # (B, J, 3)

    @classmethod
    def of(cls, batch: WindowBatch) -> "Sightings":
        mask = batch.joint_mask & batch.frame_valid[..., None]
        last_s, last_m = last_sightings(batch, mask)
        return cls(mask, batch.times_s[..., None],
                   np.where(mask[..., None], batch.positions, 0.0), mask.any(axis=1),
                   last_s, last_m)


def fit_joint_lines(batch: WindowBatch | Sightings, settings: BaselineSettings) -> JointFit:
    """Weighted least-squares line per joint over its sightings in the last velocity_window_s."""
    s = batch if isinstance(batch, Sightings) else Sightings.of(batch)
    t, positions = s.times_s, s.positions
    recent = s.mask & (t >= s.last_s[:, None, :] - settings.velocity_window_s)  # unseen: none
    weight = recent.astype(float)  # (B, T, J)
    count = np.maximum(weight.sum(axis=1), 1.0)
    t_centre = (weight * t).sum(axis=1) / count
    dt = (t - t_centre[:, None, :]) * weight  # zero where unused
    centre = np.einsum("btj,btjk->bjk", weight, positions) / count[..., None]
    spread = (dt * dt).sum(axis=1)  # (B, J)
    has_spread = spread > 1e-9
    offset = positions - centre[:, None]
    velocity = np.einsum("btj,btjk->bjk", dt, offset) / np.where(has_spread, spread, 1.0)[..., None]
    velocity[~has_spread] = 0.0
    misfit = offset - velocity[:, None] * dt[..., None]  # dt is 0 where unused: weight below
    sum_sq = np.einsum("btj,btjk->bj", weight, misfit * misfit)
    dof = np.maximum(count - 2.0, 1.0)
    noise = np.maximum(np.sqrt(sum_sq / dof), settings.noise_floor_m)
    velocity_sigma = np.where(has_spread, noise / np.sqrt(np.where(has_spread, spread, 1.0)),
                              settings.unknown_speed_sigma_mps)
    t_centre = np.where(s.seen, t_centre, 0.0)
    return JointFit(centre, t_centre, velocity, velocity_sigma, noise, s.seen, s.last_s, s.last_m)


def unforeseen_drift_m(lead_s: np.ndarray, speed_mps: np.ndarray,
                       settings: BaselineSettings) -> np.ndarray:
    """How far a joint strays from any velocity model in ``lead_s`` (B, H, J).

    A typical acceleration at first (0.5 a t^2), growing only linearly once the speed has
    changed by a typical amount. Both scale with the joint's own speed (B, J): limbs that
    swing fast (a running foot) change velocity faster than a slow torso.
    """
    speed = speed_mps[:, None, :]
    accel = settings.accel_sigma_mps2 + 2 * np.pi * settings.motion_rate_hz * speed
    speed_change = settings.speed_change_sigma_mps + speed
    quadratic_m = 0.5 * accel * lead_s ** 2
    return quadratic_m / (1.0 + 0.5 * accel * lead_s / speed_change)


def _fill_unseen(fit: JointFit, positions: np.ndarray, sigma: np.ndarray,
                 settings: BaselineSettings, radius_factor: float) -> ForecastBatch:
    """Per-axis sigma from the RMS 3D error ``sigma``; joints never seen go to the mean of
    the seen ones, with unobserved_sigma_m. The radius is ``radius_factor`` sigmas."""
    seen = fit.seen[:, None, :, None]
    weights = fit.seen[:, None, :, None].astype(float)
    body_centre = (positions * weights).sum(axis=2, keepdims=True) / np.maximum(
        weights.sum(axis=2, keepdims=True), 1.0)
    positions = np.where(seen, positions, body_centre)
    per_axis = sigma / RMS_3D_PER_AXIS_SIGMA
    sigma = np.where(fit.seen[:, None, :], per_axis, settings.unobserved_sigma_m)
    return ForecastBatch(positions=positions.astype(np.float32),
                         uncertainty_m=sigma.astype(np.float32),
                         radius_m=(radius_factor * sigma).astype(np.float32), coverage=0.0)


class _Baseline:
    """What both baselines share: numpy only, stateless, an uncalibrated Gaussian radius."""

    model_id = ""
    fallback_reason = ""  # numpy, nothing compiled, nothing to fall back from
    radius_coverage = 0.0  # the radius is the Gaussian reading of the sigma, not calibrated
    radius_note = "not calibrated: radius_m is the Gaussian reading of the sigma"

    def __init__(self, settings: BaselineSettings | None = None,
                 coverage: float = DEFAULT_COVERAGE):
        self.settings = settings or BaselineSettings()
        self.coverage = coverage
        self.radius_factor = gaussian_radius_factor(coverage)

    @property
    def backend_description(self) -> str:
        return self.name

    def reset_track(self, track_id: str) -> None:
        """Stateless: nothing to forget."""


class ZeroVelocityPredictor(_Baseline):
    """Everyone stays where they were last seen."""

    name = "zero_velocity"

    def predict(self, batch: WindowBatch, horizons_s: np.ndarray) -> ForecastBatch:
        return zero_velocity(fit_joint_lines(batch, self.settings), horizons_s, self.settings,
                             self.radius_factor)


class ConstantVelocityPredictor(_Baseline):
    """Every joint keeps the velocity of a line fitted to its recent sightings."""

    name = "constant_velocity"

    def predict(self, batch: WindowBatch, horizons_s: np.ndarray) -> ForecastBatch:
        return constant_velocity(fit_joint_lines(batch, self.settings), horizons_s,
                                 self.settings, self.radius_factor)


def zero_velocity(fit: JointFit, horizons_s: np.ndarray,
                  settings: BaselineSettings, radius_factor: float) -> ForecastBatch:
    """The zero-velocity forecast from a batch's joint lines (one fit serves both baselines)."""
    lead_s = np.asarray(horizons_s)[None, :, None] - fit.last_s[:, None, :]  # (B, H, J)
    positions = np.broadcast_to(fit.last_m[:, None], lead_s.shape + (3,))
    speed_sq = (fit.velocity_mps ** 2).sum(axis=-1) + fit.velocity_sigma_mps ** 2
    speed = np.linalg.norm(fit.velocity_mps, axis=-1)
    sigma = np.sqrt(fit.noise_m[:, None] ** 2 + speed_sq[:, None] * lead_s ** 2
                    + unforeseen_drift_m(lead_s, speed, settings) ** 2)
    return _fill_unseen(fit, positions, sigma, settings, radius_factor)


def constant_velocity(fit: JointFit, horizons_s: np.ndarray,
                      settings: BaselineSettings, radius_factor: float) -> ForecastBatch:
    """The constant-velocity forecast from a batch's joint lines."""
    target_s = np.asarray(horizons_s)[None, :, None]  # (1, H, 1)
    lead_s = target_s - fit.t_centre_s[:, None, :]  # (B, H, J)
    positions = fit.centre_m[:, None] + fit.velocity_mps[:, None] * lead_s[..., None]
    velocity_sigma = fit.velocity_sigma_mps[:, None]
    unseen_s = target_s - fit.last_s[:, None, :]  # time the joint moves unobserved
    speed = np.linalg.norm(fit.velocity_mps, axis=-1)
    sigma = np.sqrt(fit.noise_m[:, None] ** 2 + (velocity_sigma * lead_s) ** 2
                    + unforeseen_drift_m(unseen_s, speed, settings) ** 2)
    return _fill_unseen(fit, positions, sigma, settings, radius_factor)


BOTH_BASELINES = (ConstantVelocityPredictor.name, ZeroVelocityPredictor.name)  # their order


def both_baselines(batch: WindowBatch, horizons_s: np.ndarray, coverage: float,
                   settings: BaselineSettings = BaselineSettings()
                   ) -> tuple[ForecastBatch, ForecastBatch]:
    """(constant velocity, zero velocity) from one fit, radius for ``coverage``."""
    fit = fit_joint_lines(batch, settings)
    factor = gaussian_radius_factor(coverage)
    return (constant_velocity(fit, horizons_s, settings, factor),
            zero_velocity(fit, horizons_s, settings, factor))


def last_sightings(batch: WindowBatch, mask: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per person and joint: time (s, <= 0) and position of its newest sighting (0 if none).
    ``mask``: the batch's joints seen in valid frames, when the caller has it already."""
    if mask is None:
        mask = batch.joint_mask & batch.frame_valid[..., None]  # (B, T, J)
    num_frames = mask.shape[1]
    newest_first = mask[:, ::-1].argmax(axis=1)  # (B, J)
    index = num_frames - 1 - newest_first
    seen = mask.any(axis=1)
    times = np.take_along_axis(batch.times_s, index, axis=1)
    positions = np.take_along_axis(batch.positions, index[:, None, :, None], axis=1)[:, 0]
    positions = np.where(seen[..., None], positions, 0.0)  # hidden entries may be NaN
    return np.where(seen, times, 0.0), positions.astype(np.float64)
