"""Choosing NeRMo's constant-velocity blend (``ModelConfig.velocity_blend``) by nested
cross-validation.

Each fold's NeRMo forecast is mixed with the constant-velocity baseline's at every (share,
time constant) of ``GRID``, the same mix ``meta.blend_recent_line`` makes inside the model.
Fold k's blended row takes the grid point that did best on the *other* folds, so the pooled
``<row>_blend_nested`` figure never scores a setting on the trials that chose it. The choice
on all folds together is the one to store in the model trained on every trial, by a training
stage of zero steps that sets it (``config/train_cmu25_cv_stage14_blend.yaml``).
"""

from __future__ import annotations

import itertools

import numpy as np

from nermo_ros.evaluation import benchmark
from nermo_ros.evaluation.methods import Method, future_times_s, remember_last
from nermo_ros.evaluation.report import NESTED_SUFFIX

SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)  # the constant-velocity share at horizon 0
TIME_CONSTANTS_S = (0.04, 0.08, 0.16, 0.32, 0.64)  # how fast the share decays
GRID = tuple(itertools.product(SHARES, TIME_CONSTANTS_S))
# Grid points are ranked by their error relative to the unblended row, averaged over these
# first protocol horizons (80 and 160 ms): the blend is a short-horizon device.
CHOICE_HORIZONS = 2


def variant_name(base: str, share: float, time_s: float) -> str:
    return f"{base}_blend{share:g}_{time_s:g}"


def blended_rows(base: str, model: Method, constant_velocity: Method,
                 grid=GRID) -> dict[str, Method]:
    """``base`` itself plus one row per grid point, all from one forecast of each batch."""
    model = remember_last(model)
    constant_velocity = remember_last(constant_velocity)
    horizons_s = future_times_s()

    def row(share: float, time_s: float) -> Method:
        weight = (share * np.exp(-horizons_s / time_s))[None, :, None, None]

        def run(batch):
            seen = (batch.joint_mask & batch.frame_valid[..., None]).any(axis=1)[:, None, :, None]
            pred = model(batch)
            return pred + np.where(seen, weight, 0.0) * (constant_velocity(batch) - pred)

        return run

    rows = {base: model}
    rows.update({variant_name(base, s, t): row(s, t) for s, t in grid})
    return rows


def choose_nested(parts: list[benchmark.Errors], base: str,
                  grid=GRID) -> tuple[list[benchmark.Errors], dict]:
    """Each fold's errors with the grid rows replaced by one ``<base>_blend_nested`` row (the
    grid point chosen on the other folds), and a record: each fold's choice, the choice on all
    folds, and every grid point's pooled average."""
    if len(parts) < 2:
        raise ValueError("a nested choice needs at least two folds")
    metric = "public38_mm" if "public38_mm" in parts[0].mm else "mpjpe_mm"
    setting = next(iter(parts[0].mm[metric]))
    names = [variant_name(base, s, t) for s, t in grid]

    def best(chosen_parts: list[benchmark.Errors]) -> str:
        table = benchmark.tables(benchmark.pool(chosen_parts))[metric][setting]
        plain = np.asarray(table[base]["average"][:CHOICE_HORIZONS])
        score = {n: float(np.mean(np.asarray(table[n]["average"][:CHOICE_HORIZONS]) / plain))
                 for n in names}
        return min(names, key=lambda n: (score[n], n))

    chosen = [best([p for i, p in enumerate(parts) if i != k]) for k in range(len(parts))]
    pooled = benchmark.tables(benchmark.pool(parts))[metric][setting]
    overall = best(parts)
    point = dict(zip(names, grid))
    record = {
        "chosen_on": f"{metric}, {setting}, mean error relative to {base} over the first "
                     f"{CHOICE_HORIZONS} horizons, on the other folds",
        "per_fold": [{"fold": k, "share": point[c][0], "time_constant_s": point[c][1]}
                     for k, c in enumerate(chosen)],
        "all_folds": {"share": point[overall][0], "time_constant_s": point[overall][1]},
        "grid": [{"share": s, "time_constant_s": t, "average": pooled[n]["average"]}
                 for n, (s, t) in point.items()],
    }
    nested = base + NESTED_SUFFIX
    out = []
    for part, choice in zip(parts, chosen):
        mm = {m: {s: {n: err for n, err in rows.items() if n not in point} | {nested: rows[choice]}
                  for s, rows in by_setting.items()} for m, by_setting in part.mm.items()}
        out.append(benchmark.Errors(part.actions, mm, part.trials))
    return out, record
