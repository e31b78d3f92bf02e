"""Calibrating the radius on held-out mocap, and checking its coverage on trials it never saw.

Data: the held-out split (``cmu.heldout_split``: the lowest-numbered trial of each action,
which the shipped model never trained on), at 25 Hz. Each trial's root-relative body (the form
the model trained on) is carried along the trial's own root path, so the predictor works as in
the node: the pose about the root by NeRMo, the root's travel by constant velocity.

Forecasts: the real ``NermoPredictor``, frame after frame, each stretch of ``CHUNK_FRAMES``
frames one track (so every forecast but a stretch's first warm-starts from the previous frame,
as in the node), at the 25 future frames (0.04 to 1.0 s). Every window is forecast three times:
complete, and with 20 % and 40 % of the (frame, joint) entries hidden at random (``MASKS``);
with a noise model, a fourth time through the measured camera noise (``PERCEPTION_NOISE``:
MediaPipe's jitter, glitches, left-right swaps and drops). Calibrated on all of them, the
radius widens where the features show camera noise and stays tight on clean mocap.

Cross-calibration: every trial is scored with a calibration fitted on the other trials only,
never on itself: one trial at a time (``leave_one_trial_out``, the main figure), and in two
halves of four trials (``halves``). Each held-out trial is a different action, so this tests a
calibration on actions it never saw. Every trial weighs the same in a calibration
(``trial_weights``): two of the eight trials hold two thirds of the frames. The static table,
calibrated the same way on the same trials, is the conformal quantile of the errors per
horizon and joint, the same for every forecast. The shipped calibration is fitted on all
held-out trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nermo_ros.data import cmu
from nermo_ros.evaluation import protocol
from nermo_ros.forecasting.calibration import (Calibration, conformal_quantile,
                                               fit_calibration, fit_scale_model,
                                               gaussian_radius_factor, with_travel)
from nermo_ros.forecasting.difficulty import FEATURE_NAMES
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.skeleton import LAYOUT_ID

CHUNK_FRAMES = 150  # frames per track: 6 s at 25 Hz
MASKS = {"complete": 0.0, "missing_joints_20": 0.2, "missing_joints_40": 0.4}
MASK_SEED = 20261129
# The measured camera noise (config/perception_noise.yaml) as a fourth setting.
PERCEPTION_NOISE = "perception_noise"
ROOT = 0  # the canonical pelvis, the model's origin joint


@dataclass(frozen=True)
class Trial:
    name: str
    action: str
    positions_m: np.ndarray  # (T, J, 3): the body about its root, carried along the root path


def load_trial(path: Path, skeleton: cmu.CmuSkeleton) -> Trial:
    """A trial at 25 Hz, metric: the model's root-relative body plus the root's own path."""
    frames = cmu.read_expmap_file(path)[::cmu.PROTOCOL_DOWNSAMPLE]
    body_m = protocol.trial_positions_m(frames, skeleton, LAYOUT_ID)
    root_path_m = frames[:, :3] * cmu.METRIC_UNIT_MM / 1000.0 @ cmu.CMU_TO_BODY_AXES.T
    name = path.name.split(".")[0]
    return Trial(name, path.parent.name, body_m + (root_path_m - root_path_m[0])[:, None])


@dataclass
class Forecasts:
    """Per forecast (N) of every trial and mask: what is known and how wrong it was."""

    trial: np.ndarray  # (N,) trial name
    action: np.ndarray  # (N,)
    mask: np.ndarray  # (N,) MASKS key
    features: np.ndarray  # (N, J, K)
    seen: np.ndarray  # (N, J)
    pose_error_m: np.ndarray  # (N, G, J) the pose about the root
    error_m: np.ndarray  # (N, G, J) the published position (pose plus travel)
    travel_error_m: np.ndarray  # (N, G)
    travel_rms_m: np.ndarray  # (N, G)
    sigma_m: np.ndarray  # (N, G, J) the published per-axis sigma

    def select(self, rows: np.ndarray) -> "Forecasts":
        return Forecasts(**{k: v[rows] for k, v in vars(self).items()})


def horizons_s() -> np.ndarray:
    return np.arange(1, protocol.OUTPUT_FRAMES + 1) * protocol.FRAME_PERIOD_S


def observed_trials(trials: list[Trial], setting: str, noise=None
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per trial, what the predictor sees: (T, J, 3) positions and (T, J) joints seen. A mask
    setting hides that share of (frame, joint) entries at random; ``PERCEPTION_NOISE`` runs the
    whole trial through the measured camera noise (``perception_noise.corrupt``: jitter,
    glitches, left-right swaps, dropped joints and frames, in time order)."""
    if setting == PERCEPTION_NOISE:
        import torch

        from nermo_ros.evaluation.perception_noise import corrupt

        gen = torch.Generator().manual_seed(MASK_SEED)
        out = []
        for trial in trials:
            seen = corrupt(torch.from_numpy(trial.positions_m[None]),
                           torch.tensor([protocol.FRAME_PERIOD_S], dtype=torch.float64), noise,
                           gen)
            mask = seen.joint_mask.numpy()[0] & seen.frame_valid.numpy()[0][:, None]
            out.append((seen.positions_m.numpy()[0], mask))
        return out
    rng = np.random.default_rng(MASK_SEED + list(MASKS).index(setting))
    return [(t.positions_m, rng.random(t.positions_m.shape[:2]) >= MASKS[setting])
            for t in trials]


def forecast_trials(predictor, trials: list[Trial], mask_name: str, noise=None) -> Forecasts:
    """Run ``predictor`` (``NermoPredictor``) over every trial's frames, all stretches at once,
    as ``mask_name`` (a MASKS key or PERCEPTION_NOISE, with ``noise``) shows them; the truth
    is always the clean trial."""
    t_in, t_out = protocol.INPUT_FRAMES, protocol.OUTPUT_FRAMES
    grid = horizons_s()
    observed = observed_trials(trials, mask_name, noise)
    # (trial, first forecast frame, last + 1) of every stretch
    stretches = [(k, first, min(first + CHUNK_FRAMES, len(t.positions_m) - t_out))
                 for k, t in enumerate(trials)
                 for first in range(t_in - 1, len(t.positions_m) - t_out, CHUNK_FRAMES)]
    times = (np.arange(t_in) - (t_in - 1)) * protocol.FRAME_PERIOD_S
    parts: dict[str, list] = {k: [] for k in Forecasts.__dataclass_fields__}
    for step in range(CHUNK_FRAMES):
        live = [(s, k, first + step) for s, (k, first, end) in enumerate(stretches)
                if first + step < end]
        if not live:
            break
        window = np.stack([observed[k][0][f - t_in + 1:f + 1] for _, k, f in live])
        mask = np.stack([observed[k][1][f - t_in + 1:f + 1] for _, k, f in live])
        batch = WindowBatch(np.broadcast_to(times, mask.shape[:2]).copy(),
                            np.where(mask[..., None], window, np.nan), mask, mask.any(axis=2),
                            [f"{mask_name}/{s}" for s, _, _ in live])
        out = predictor.forecast(batch, grid)
        future = np.stack([trials[k].positions_m[f + 1:f + 1 + t_out] for _, k, f in live])
        root = future[:, :, ROOT]
        pose = out.positions - out.travel_m[:, :, None]
        parts["pose_error_m"].append(np.linalg.norm(pose - (future - root[:, :, None]), axis=-1))
        parts["error_m"].append(np.linalg.norm(out.positions - future, axis=-1))
        parts["travel_error_m"].append(np.linalg.norm(out.travel_m - root, axis=-1))
        parts["travel_rms_m"].append(out.travel_rms_m)
        parts["sigma_m"].append(out.uncertainty_m)
        parts["features"].append(out.features)
        parts["seen"].append(out.seen)
        parts["trial"].append(np.array([trials[k].name for _, k, _ in live]))
        parts["action"].append(np.array([trials[k].action for _, k, _ in live]))
        parts["mask"].append(np.full(len(live), mask_name))
    return Forecasts(**{k: np.concatenate(v) for k, v in parts.items()})


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


def concatenate(parts: list[Forecasts]) -> Forecasts:
    return Forecasts(**{k: np.concatenate([getattr(p, k) for p in parts])
                        for k in Forecasts.__dataclass_fields__})
