"""Cross-validated benchmark: each fold's models forecast only that fold's validation trials,
and the per-sample errors of all folds pool into one table, so every trial is scored once by
models that never trained on it.

A model's checkpoint records the split it trained on (``train_config["data"]``) and the
trials it was validated on; ``fold_leak`` compares them with the fold it is asked to score.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Callable

import numpy as np

from nermo_ros.evaluation import benchmark
from nermo_ros.evaluation.folds import Fold
from nermo_ros.evaluation.methods import Method


def fold_checkpoint_path(template: str, fold_index: int, layout: str) -> Path:
    """``template`` with ``{k}`` the fold index and ``{layout}`` the skeleton layout. A
    shell pattern left in it (``runs/fold{k}/12_*/final.pt``: a recipe run's stage folder,
    whose long name is the stage's config) must match exactly one file."""
    try:
        path = Path(template.format(k=fold_index, layout=layout))
    except (KeyError, IndexError) as error:
        raise ValueError(f"checkpoint template {template!r} has an unknown field {error}; it "
                         "may use {k} (the fold index) and {layout}") from None
    if path.exists() or not glob.has_magic(str(path)):
        return path
    found = sorted(glob.glob(str(path)))
    if len(found) != 1:
        raise ValueError(f"checkpoint pattern {str(path)!r} (fold {fold_index}) matches "
                         + (", ".join(found) if found else "no file")
                         + "; it must match exactly one checkpoint")
    return Path(found[0])


def fold_leak(train_config: dict, validation: dict, fold: Fold) -> str | None:
    """Why a checkpoint may have trained on ``fold``'s validation trials, or None if it did not."""
    data = train_config.get("data") or {}
    trained = (data.get("split", "heldout"), data.get("fold"), data.get("num_folds"),
               data.get("fold_seed"))
    wanted = ("fold", fold.index, fold.num_folds, fold.seed)
    if trained != wanted:
        which = ""
        if trained[0] == "fold":
            which = f" (fold {trained[1]} of {trained[2]}, seed {trained[3]})"
        return (f"it was trained on split {trained[0]!r}{which}, not on fold {fold.index} of "
                f"{fold.num_folds} (seed {fold.seed})")
    recorded = sorted(validation.get("trials", []))
    if recorded and recorded != fold.validation_names():
        return (f"its fold held out {recorded} but this data folder's fold {fold.index} holds out "
                f"{fold.validation_names()}; evaluate on the data folder it was trained on")
    return None


def cross_validate(folds: list[Fold], sequences: dict[Path, np.ndarray],
                   methods_of_fold: Callable[[int], dict[str, Method]], metrics: dict,
                   sampling: str, settings=benchmark.SETTINGS,
                   choose: Callable[[list[benchmark.Errors]], tuple[list, dict]] | None = None
                   ) -> dict:
    """The pooled summary (``benchmark.summary``) plus ``per_fold``: each fold's samples and
    average rows, to show how much the folds disagree. ``choose`` turns the folds' errors into
    nested-choice rows (``velocity_blend.choose_nested``) and a record kept as ``nested``."""
    parts, counts = [], []
    for fold in folds:
        samples = benchmark.cut_samples(fold.validation, sequences, sampling)
        parts.append(benchmark.sample_errors(samples, methods_of_fold(fold.index), metrics, settings))
        counts.append(len(samples))
    record = None
    if choose is not None:
        parts, record = choose(parts)
    per_fold = []
    for fold, errors, count in zip(folds, parts, counts):
        averages = {m: {s: {n: rows["average"] for n, rows in per.items()}
                        for s, per in by_setting.items()}
                    for m, by_setting in benchmark.tables(errors).items()}
        per_fold.append({"fold": fold.index, "samples": count,
                         "validation": fold.validation_names(), "average": averages})
    out = {**benchmark.summary(benchmark.pool(parts)), "per_fold": per_fold}
    if record is not None:
        out["nested"] = record
    return out
