"""Calibrating the radius on held-out forecasts, and checking its coverage on trials it was
not fitted on (the forecasts: ``coverage_forecasts.py``).

Cross-calibration: every trial is scored with a calibration fitted on the other trials only,
never on itself: one trial at a time (``leave_one_trial_out``, the main figure), and in two
halves of four trials (``halves``). Each held-out trial is a different action, so this tests a
calibration on actions it never saw. Every trial weighs the same in a calibration
(``trial_weights``): two of the eight trials hold two thirds of the frames. Calibrated on all
settings (mocap as recorded, with joints missing, through camera noise), the radius widens
where the features show noise and stays tight on clean mocap. The static table, calibrated
the same way on the same trials, is the conformal quantile of the errors per horizon and
joint, the same for every forecast. The shipped calibration is fitted on all held-out trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.evaluation.coverage_forecasts import (MASKS, PERCEPTION_NOISE, Forecasts,
                                                     horizons_s)
from nermo_ros.forecasting.calibration import (Calibration, conformal_quantile,
                                               fit_calibration, fit_scale_model,
                                               gaussian_radius_factor, with_travel)
from nermo_ros.forecasting.difficulty import FEATURE_NAMES


def trial_weights(f: Forecasts) -> np.ndarray:
    """(N,) 1 / the forecasts of that trial: every trial (one per action) counts the same,
    so two long trials do not make the calibration theirs."""
    _, index, counts = np.unique(f.trial, return_inverse=True, return_counts=True)
    return 1.0 / counts[index]


def travel_gain(f: Forecasts, weights: np.ndarray) -> np.ndarray:
    """(G,) the factor that makes the root's constant-velocity RMS estimate its actual RMS."""
    w = weights[:, None]
    return np.sqrt((w * f.travel_error_m ** 2).sum(axis=0) /
                   np.maximum((w * f.travel_rms_m ** 2).sum(axis=0), 1e-12))


def calibrate(f: Forecasts, model_id: str = "", info: dict | None = None) -> Calibration:
    """Scale model on the pose errors, travel gain on the root's, quantiles on the whole; each
    trial weighted the same (``trial_weights``)."""
    weights = trial_weights(f)
    scored = np.broadcast_to(f.seen[:, None, :], f.error_m.shape)
    model = fit_scale_model(FEATURE_NAMES, f.features, f.pose_error_m, scored, weights)
    gain = travel_gain(f, weights)
    scale = with_travel(model.grid_scale_m(f.features), gain, f.travel_rms_m)
    return fit_calibration(horizons_s(), f.error_m / scale, scored, model, gain, model_id, info,
                           weights)


def radius_m(calibration: Calibration, f: Forecasts, coverage: float) -> np.ndarray:
    prepared = calibration.prepared(horizons_s(), coverage)
    return prepared.radius_m(prepared.scale_m(f.features, f.travel_rms_m))


def static_radius_m(f: Forecasts, coverage: float) -> np.ndarray:
    """(G, J) the conformal quantile of the errors per horizon and joint, each trial weighted
    the same: the same radius for every forecast."""
    weights, level = trial_weights(f), np.array([coverage])
    return np.array([[conformal_quantile(f.error_m[:, h, j][f.seen[:, j]], level,
                                         weights[f.seen[:, j]])[0]
                      for j in range(f.error_m.shape[2])] for h in range(f.error_m.shape[1])])


@dataclass(frozen=True)
class CoverageRow:
    """Per horizon, on scored (seen) joints: share inside the radius and mean radius."""

    coverage: np.ndarray  # (G,)
    mean_radius_m: np.ndarray  # (G,)
    scored: int


def score(error_m: np.ndarray, radius: np.ndarray, seen: np.ndarray) -> CoverageRow:
    radius = np.broadcast_to(radius, error_m.shape)
    weight = np.broadcast_to(seen[:, None, :], error_m.shape)
    count = weight.sum(axis=(0, 2))
    inside = ((error_m <= radius) & weight).sum(axis=(0, 2)) / count
    mean = (radius * weight).sum(axis=(0, 2)) / count
    return CoverageRow(inside, mean, int(weight.sum()))


def folds(trial_names: list[str], protocol_name: str) -> list[list[str]]:
    """The groups of test trials: one trial at a time (``leave_one_trial_out``), or two halves
    of every other trial in name order (``halves``, four actions each)."""
    ordered = sorted(trial_names)
    if protocol_name == "leave_one_trial_out":
        return [[name] for name in ordered]
    if protocol_name == "halves":
        return [ordered[0::2], ordered[1::2]]
    raise ValueError(f"unknown protocol {protocol_name!r}; choose leave_one_trial_out or halves")


PROTOCOLS = ("leave_one_trial_out", "halves")


def cross_calibrated(f: Forecasts, coverage: float, protocol_name: str) -> dict:
    """Every test group's radii from a calibration (and a static table) fitted on the other
    trials only."""
    calibrated = np.empty(f.error_m.shape)
    static = np.empty(f.error_m.shape)
    groups = folds(sorted(set(f.trial.tolist())), protocol_name)
    for test in groups:
        on_test = np.isin(f.trial, test)
        fitted = calibrate(f.select(~on_test))
        calibrated[on_test] = radius_m(fitted, f.select(on_test), coverage)
        static[on_test] = static_radius_m(f.select(~on_test), coverage)[None]
    return {"groups": groups, "calibrated": calibrated, "static": static}


def matched_static(error_m: np.ndarray, static: np.ndarray, seen: np.ndarray,
                   target: np.ndarray) -> np.ndarray:
    """The static radii scaled per horizon until they cover, on these very forecasts, what
    ``target`` (G,) says: the static table at the calibrated radius' coverage (a comparison
    that favours the static table, which gets to look at the test errors)."""
    out = np.array(static, dtype=np.float64)
    for h in range(error_m.shape[1]):
        ratio = error_m[:, h][seen] / np.broadcast_to(static[:, h], error_m[:, h].shape)[seen]
        factor = np.quantile(ratio, min(float(target[h]), 1.0), method="inverted_cdf")
        out[:, h] = static[:, h] * factor
    return out


def coverage_tables(f: Forecasts, coverage: float) -> dict:
    """The study's numbers per protocol: per horizon pooled over test groups and settings,
    then by setting and by action; the calibrated radius, the static table calibrated the same way, the static table
    rescaled to the calibrated coverage, and the Gaussian reading of the sigma."""
    gaussian = gaussian_radius_factor(coverage) * f.sigma_m
    tables = {"coverage": coverage, "horizons_s": horizons_s().tolist(),
              "forecasts": int(len(f.trial)), "trials": sorted(set(f.trial.tolist())),
              "settings": list(dict.fromkeys(f.mask.tolist()))}
    for protocol_name in PROTOCOLS:
        cross = cross_calibrated(f, coverage, protocol_name)

        def rows(select: np.ndarray) -> dict:
            e, seen = f.error_m[select], f.seen[select]
            calibrated = score(e, cross["calibrated"][select], seen)
            matched = matched_static(e, np.broadcast_to(cross["static"][select], e.shape), seen,
                                     calibrated.coverage)
            out = {"calibrated": calibrated, "static": score(e, cross["static"][select], seen),
                   "static_at_calibrated_coverage": score(e, matched, seen),
                   "gaussian_sigma": score(e, gaussian[select], seen)}
            return {k: {"coverage": v.coverage.tolist(), "mean_radius_m": v.mean_radius_m.tolist(),
                        "scored": v.scored} for k, v in out.items()}

        tables[protocol_name] = {
            "groups": cross["groups"], "pooled": rows(np.ones(len(f.trial), bool)),
            "by_mask": {m: rows(f.mask == m) for m in (*MASKS, PERCEPTION_NOISE)
                        if (f.mask == m).any()},
            "by_action": {a: rows(f.action == a) for a in sorted(set(f.action.tolist()))}}
    return tables
