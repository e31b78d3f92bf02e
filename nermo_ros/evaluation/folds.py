"""Cross-validation folds over the training trials, so that models are chosen on trials they
never trained on and the figure we report is not the split we chose by.

Each action's trials are shuffled by a seeded generator and dealt round-robin to the folds,
continuing where the previous action stopped: with 5 folds and 5 trials per action, every
fold validates one trial of every action (leave one trial out per action); an action with
fewer trials than folds lands in as many folds as it has trials, and the 40 extra walking
trials spread 8 per fold. Every trial is validated in exactly one fold and trains in all the
others. Trials are whatever the caller lists (paths or names); the folds depend only on the
listing and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Hashable

import numpy as np

MIN_FOLDS = 2


@dataclass(frozen=True)
class Fold:
    """Fold ``index`` of ``num_folds``: trials per action to train on and to validate on."""

    index: int
    num_folds: int
    seed: int
    train: dict[str, list]
    validation: dict[str, list]

    def validation_names(self) -> list[str]:
        """File names of the validation trials, sorted (what checkpoints record)."""
        return sorted(_name(t) for trials in self.validation.values() for t in trials)


def only_validating(fold: Fold, keep: dict[str, list]) -> Fold:
    """``fold`` validating only those of its validation trials that ``keep`` lists (e.g. the
    held-out split, to score the same windows as a model trained without them)."""
    wanted = {t for trials in keep.values() for t in trials}
    return replace(fold, validation={a: [t for t in ts if t in wanted]
                                     for a, ts in fold.validation.items()})


def _name(trial: Hashable) -> str:
    return getattr(trial, "name", str(trial))


def fold_assignment(trials: dict[str, list], num_folds: int, seed: int = 0) -> dict[str, list[int]]:
    """{action: fold index of each of its trials, in the listed order}."""
    total = sum(len(v) for v in trials.values())
    if num_folds < MIN_FOLDS:
        raise ValueError(f"num_folds must be at least {MIN_FOLDS}, got {num_folds}: one fold "
                         "would validate on the trials it trains on")
    if num_folds > total:
        raise ValueError(f"num_folds {num_folds} exceeds the {total} trials listed, so some "
                         f"fold would validate nothing; use at most {total} folds")
    for action, items in trials.items():
        if len(set(items)) != len(items):
            raise ValueError(f"action {action!r} lists a trial twice: {sorted(map(str, items))}")
    rng = np.random.RandomState(seed)
    assignment: dict[str, list[int]] = {}
    dealt = 0
    for action in sorted(trials):
        items = trials[action]
        # Shuffle a canonical order, so the folds do not depend on how the caller sorted.
        canonical = sorted(range(len(items)), key=lambda i: str(items[i]))
        folds = [0] * len(items)
        for position, i in enumerate(rng.permutation(len(items))):
            folds[canonical[i]] = (dealt + position) % num_folds
        assignment[action] = folds
        dealt += len(items)
    return assignment


def make_folds(trials: dict[str, list], num_folds: int, seed: int = 0) -> list[Fold]:
    """The ``num_folds`` folds of ``trials`` ({action: trials}); see the module docstring."""
    assignment = fold_assignment(trials, num_folds, seed)
    folds = []
    for k in range(num_folds):
        train: dict[str, list] = {}
        validation: dict[str, list] = {}
        for action, items in trials.items():
            held = [t for t, f in zip(items, assignment[action]) if f == k]
            kept = [t for t, f in zip(items, assignment[action]) if f != k]
            if held:
                validation[action] = held
            if kept:
                train[action] = kept
        folds.append(Fold(k, num_folds, seed, train, validation))
    return folds


def fold(trials: dict[str, list], index: int, num_folds: int, seed: int = 0) -> Fold:
    """Fold ``index`` (0 .. num_folds - 1) of ``make_folds``."""
    if not 0 <= index < num_folds:
        raise ValueError(f"fold {index} does not exist: with {num_folds} folds choose 0 .. "
                         f"{num_folds - 1}")
    return make_folds(trials, num_folds, seed)[index]
