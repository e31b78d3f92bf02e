"""Calibrated keep-out radii: per forecast, horizon and joint, the distance from the predicted
joint within which the person's joint will be, with a stated probability (``coverage``).

Normalised split conformal prediction, in two steps:

1. A scale says how hard this forecast is, from what is known when it is made. For NeRMo
   (``ScaleModel``) it is fitted per horizon as log-linear in the joint and the features of
   ``difficulty.py`` (the adaptation residual, speed, how erratically the joint moves, missing
   observations), then set to the RMS error; the root's constant-velocity travel adds its own
   RMS error in quadrature. The baselines' scale is their own sigma.
2. On windows the model never trained on, the scores ``error / scale`` are collected per
   horizon. The radius for coverage p is ``q_h(p) * scale``, with ``q_h(p)`` the
   ceil((n + 1) p)-th smallest of the n scores at horizon h (``conformal_quantile``).

When live forecasts are exchangeable with the calibration windows, at least a share p of the
live errors at each horizon falls inside the radius: marginally, over people, frames and
joints, not per person. Quantiles are stored for coverages 0.50 to 0.99 in steps of 0.01
(``LEVELS``) and interpolated in between. Between calibrated horizons the coefficients are
interpolated; before the first, the first horizon's are used; beyond the last, the radius grows
linearly with the horizon from the last one's (an extrapolation the docs state).

The calibrations of a checkpoint live in a file beside it (``calibration_file.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np

LEVELS = np.round(np.arange(0.50, 0.995, 0.01), 2)  # coverages with a stored score quantile
LOG_ERROR_FLOOR_M = 0.001  # errors below a millimetre are fitted as a millimetre


def conformal_quantile(scores: np.ndarray, levels: np.ndarray,
                       weights: np.ndarray | None = None) -> np.ndarray:
    """The split-conformal quantile of ``scores`` (n,) at each level: the smallest score whose
    cumulative weight reaches level * (n + 1), with the weights scaled to sum to n (equal
    weights: the ceil((n + 1) p)-th smallest score); +inf where that is never reached (too few
    scores for that coverage). Weights let each group of scores (a trial, an action) count
    the same however many scores it has."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    order = np.argsort(scores, kind="stable")
    n = scores.size
    weight = np.ones(n) if weights is None else np.asarray(weights, np.float64).ravel()[order]
    cumulative = np.cumsum(weight) * (n / weight.sum()) if n else np.zeros(0)
    needed = np.asarray(levels, dtype=np.float64) * (n + 1) - 1e-9
    rank = np.searchsorted(cumulative, needed, side="left")
    padded = np.append(scores[order], np.inf)
    return padded[np.minimum(rank, n)]


@lru_cache(maxsize=16)  # a bisection of 60 steps: the forecast of every frame asks again
def gaussian_radius_factor(coverage: float) -> float:
    """k with P(|e| <= k sigma) = coverage for an isotropic 3D Gaussian of per-axis sigma: the
    radius a sigma implies when nothing calibrated it (the chi distribution with 3 degrees)."""
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")

    def inside(r: float) -> float:
        return math.erf(r / math.sqrt(2.0)) - math.sqrt(2.0 / math.pi) * r * math.exp(-r * r / 2)

    low, high = 0.0, 10.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if inside(mid) < coverage else (low, mid)
    return 0.5 * (low + high)


def check_coverage(coverage: float) -> None:
    if not LEVELS[0] <= coverage <= LEVELS[-1]:
        raise ValueError(f"coverage={coverage} is outside the calibrated levels "
                         f"[{LEVELS[0]}, {LEVELS[-1]}]; choose a share of future positions the "
                         f"radius should hold in that range (0.9 is the default)")


def _on_grid(grid_s: np.ndarray, horizons_s: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(G, ...) rows at the grid horizons -> (H, ...) rows at ``horizons_s``, linear in
    between and the end rows outside."""
    flat = table.reshape(len(grid_s), -1)
    out = np.stack([np.interp(horizons_s, grid_s, flat[:, c]) for c in range(flat.shape[1])], -1)
    return out.reshape((len(horizons_s),) + table.shape[1:])


def beyond_gain(grid_s: np.ndarray, horizons_s: np.ndarray) -> np.ndarray:
    """(H,) radius factor: h / last calibrated horizon beyond it, else 1."""
    return np.maximum(horizons_s / grid_s[-1], 1.0)


@dataclass(frozen=True)
class ScaleModel:
    """log RMS error = joint_log_scale[h, j] + features[j] . feature_weight[h], features clipped
    to the range seen in calibration (outside it the model has no evidence)."""

    feature_names: tuple[str, ...]
    joint_log_scale: np.ndarray  # (G, J)
    feature_weight: np.ndarray  # (G, K)
    feature_low: np.ndarray  # (K,)
    feature_high: np.ndarray  # (K,)

    def log_scale(self, features: np.ndarray, grid_rows: tuple[np.ndarray, np.ndarray]
                  ) -> np.ndarray:
        """(B, J, K) features and (intercepts (H, J), weights (H, K)) -> (B, H, J)."""
        intercept, weight = grid_rows
        clipped = np.clip(features, self.feature_low, self.feature_high)
        return intercept[None] + np.einsum("bjk,hk->bhj", clipped, weight)

    def grid_scale_m(self, features: np.ndarray) -> np.ndarray:
        """(B, J, K) -> (B, G, J) RMS error at the calibrated horizons."""
        return np.exp(self.log_scale(features, (self.joint_log_scale, self.feature_weight)))

    def to_dict(self) -> dict:
        return {"feature_names": list(self.feature_names),
                "joint_log_scale": self.joint_log_scale.tolist(),
                "feature_weight": self.feature_weight.tolist(),
                "feature_low": self.feature_low.tolist(),
                "feature_high": self.feature_high.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "ScaleModel":
        return cls(tuple(d["feature_names"]), np.asarray(d["joint_log_scale"], np.float64),
                   np.asarray(d["feature_weight"], np.float64),
                   np.asarray(d["feature_low"], np.float64),
                   np.asarray(d["feature_high"], np.float64))


def fit_scale_model(feature_names: tuple[str, ...], features: np.ndarray, errors_m: np.ndarray,
                    scored: np.ndarray, weights: np.ndarray | None = None) -> ScaleModel:
    """Least squares of log error on one-hot joints and features, per horizon, then each
    horizon's level set so that the mean squared normalised error is 1 (the scale is an RMS).

    features (N, J, K); errors_m (N, G, J); scored (N, G, J) bool, where an error exists;
    weights (N,) of each forecast (None: equal).
    """
    n, g, j = errors_m.shape
    k = features.shape[2]
    low, high = features.reshape(-1, k).min(axis=0), features.reshape(-1, k).max(axis=0)
    intercepts, slopes = np.zeros((g, j)), np.zeros((g, k))
    design = np.concatenate([np.broadcast_to(np.eye(j), (n, j, j)), features], axis=2)
    weight = np.broadcast_to((np.ones(n) if weights is None else weights)[:, None], (n, j))
    for h in range(g):
        rows = scored[:, h]
        x, w = design[rows], weight[rows]
        y = np.log(np.maximum(errors_m[:, h][rows], LOG_ERROR_FLOOR_M))
        root_w = np.sqrt(w)[:, None]
        coef, *_ = np.linalg.lstsq(x * root_w, y * root_w[:, 0], rcond=None)
        log_scale = x @ coef
        normalised = (errors_m[:, h][rows] / np.exp(log_scale)) ** 2
        rms_gain = np.sqrt(np.average(normalised, weights=w))
        intercepts[h] = coef[:j] + np.log(rms_gain)
        slopes[h] = coef[j:]
    return ScaleModel(tuple(feature_names), intercepts, slopes, low, high)


def with_travel(scale_m: np.ndarray, gain: np.ndarray | None,
                travel_rms_m: np.ndarray | None) -> np.ndarray:
    """(B, H, J) pose scale and (B, H) travel RMS (times ``gain`` (H,)) in quadrature: the
    pose about the root and the root's travel err independently."""
    if gain is None or travel_rms_m is None:
        return scale_m
    travel = gain[None, :, None] * travel_rms_m[:, :, None]
    return np.sqrt(scale_m ** 2 + travel ** 2)


@dataclass(frozen=True)
class Calibration:
    """Score quantiles per coverage level and horizon, the scale model (None: the predictor's
    own sigma is the scale) and the gain on the root-travel RMS (None: no travel term)."""

    horizons_s: np.ndarray  # (G,) the calibrated horizons
    levels: np.ndarray  # (L,)
    score_quantile: np.ndarray  # (L, G)
    scale_model: ScaleModel | None = None
    travel_gain: np.ndarray | None = None  # (G,)
    model_id: str = ""
    # How and on what it was made: for people, and its num_adapt_steps and mirror_average
    # pick the calibration that matches the predictor's forecasts.
    info: Mapping | None = None

    def __post_init__(self):
        object.__setattr__(self, "_prepared", {})

    def prepared(self, horizons_s: np.ndarray, coverage: float) -> "PreparedRadius":
        """The per-horizon coefficients for these horizons and this coverage, made once."""
        key = (np.asarray(horizons_s, np.float64).tobytes(), float(coverage))
        if key not in self._prepared:
            self._prepared[key] = self._prepare(np.asarray(horizons_s, np.float64), coverage)
        return self._prepared[key]

    def _prepare(self, horizons_s: np.ndarray, coverage: float) -> "PreparedRadius":
        check_coverage(coverage)
        grid = self.horizons_s
        per_level = np.stack([np.interp(coverage, self.levels, self.score_quantile[:, h])
                              for h in range(len(grid))])
        quantile = _on_grid(grid, horizons_s, per_level) * beyond_gain(grid, horizons_s)
        model = self.scale_model
        rows = None if model is None else (_on_grid(grid, horizons_s, model.joint_log_scale),
                                           _on_grid(grid, horizons_s, model.feature_weight))
        travel = (None if self.travel_gain is None
                  else _on_grid(grid, horizons_s, self.travel_gain))
        return PreparedRadius(quantile, rows, travel, model)

    @property
    def num_adapt_steps(self) -> int | None:
        """The adaptation steps of the forecasts it was made on (None: not a NeRMo one)."""
        return (self.info or {}).get("num_adapt_steps")

    @property
    def mirror_average(self) -> bool:
        """Whether its forecasts were mirror-averaged (files made before the choice: not)."""
        return bool((self.info or {}).get("mirror_average", False))

    @property
    def report_hold(self) -> tuple[float, float]:
        """(hold_time_s, hold_jitter_m) of its forecasts (files made before the hold: none)."""
        info = self.info or {}
        return (float(info.get("hold_time_s", 0.0)), float(info.get("hold_jitter_m", 0.0)))

    @property
    def level_body(self) -> bool:
        """Whether its forecasts were made with the body stood upright (files made before
        the choice: not)."""
        return bool((self.info or {}).get("level_body", False))

    def to_dict(self) -> dict:
        return {"model_id": self.model_id, "info": dict(self.info or {}),
                "horizons_s": self.horizons_s.tolist(), "levels": self.levels.tolist(),
                "score_quantile": self.score_quantile.tolist(),
                "scale_model": None if self.scale_model is None else self.scale_model.to_dict(),
                "travel_gain": None if self.travel_gain is None else self.travel_gain.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Calibration":
        model = d.get("scale_model")
        travel = d.get("travel_gain")
        return cls(np.asarray(d["horizons_s"], np.float64), np.asarray(d["levels"], np.float64),
                   np.asarray(d["score_quantile"], np.float64),
                   None if model is None else ScaleModel.from_dict(model),
                   None if travel is None else np.asarray(travel, np.float64),
                   d.get("model_id", ""), d.get("info"))


@dataclass(frozen=True)
class PreparedRadius:
    """A calibration's coefficients at one set of horizons and one coverage."""

    quantile: np.ndarray  # (H,) score quantile, times the linear growth beyond the grid
    scale_rows: tuple[np.ndarray, np.ndarray] | None  # (H, J) intercepts, (H, K) weights
    travel_gain: np.ndarray | None  # (H,)
    scale_model: ScaleModel | None

    def scale_m(self, features: np.ndarray, travel_rms_m: np.ndarray | None = None
                ) -> np.ndarray:
        """(B, J, K) difficulty features and (B, H) RMS error of the root's travel -> (B, H, J)
        RMS error of the published position."""
        pose = np.exp(self.scale_model.log_scale(features, self.scale_rows))
        return with_travel(pose, self.travel_gain, travel_rms_m)

    def radius_m(self, scale_m: np.ndarray) -> np.ndarray:
        """(B, H, J) scale (a predictor's RMS error) -> (B, H, J) radius."""
        return self.quantile[None, :, None] * scale_m


def fit_calibration(horizons_s: np.ndarray, scores: np.ndarray, scored: np.ndarray,
                    scale_model: ScaleModel | None = None,
                    travel_gain: np.ndarray | None = None, model_id: str = "",
                    info: Mapping | None = None, weights: np.ndarray | None = None
                    ) -> Calibration:
    """The conformal quantile of ``scores`` (N, G, J) over the ``scored`` entries, per horizon
    and level; ``weights`` (N,) per forecast (None: equal)."""
    weight = np.broadcast_to((np.ones(len(scores)) if weights is None else weights)[:, None],
                             scored[:, 0].shape)
    quantile = np.stack([conformal_quantile(scores[:, h][scored[:, h]], LEVELS,
                                            weight[scored[:, h]])
                         for h in range(scores.shape[1])], axis=1)
    return Calibration(np.asarray(horizons_s, np.float64), LEVELS.copy(), quantile, scale_model,
                       travel_gain, model_id, info)
