"""Cross-validation folds: no trial both trains and validates in a fold, every trial validates
exactly once, and the folds follow from the listing and the seed alone."""

import pytest

from nermo_ros.evaluation.folds import fold, fold_assignment, make_folds

TRIALS = {
    "basketball": [f"basketball_{n}" for n in range(1, 6)],
    "directing_traffic": ["directing_traffic_1", "directing_traffic_4"],
    "running": [f"running_{n}" for n in range(1, 6)],
    "walking_extra": [f"walking_{n}" for n in range(13, 53)],
}


def _flat(per_action):
    return [t for trials in per_action.values() for t in trials]


def test_no_trial_of_a_fold_is_both_trained_and_validated_and_the_rest_all_train():
    for f in make_folds(TRIALS, 5):
        train, held = set(_flat(f.train)), set(_flat(f.validation))
        assert not train & held
        assert train | held == set(_flat(TRIALS))


def test_every_trial_is_validated_in_exactly_one_fold():
    validated = [t for f in make_folds(TRIALS, 5) for t in _flat(f.validation)]
    assert sorted(validated) == sorted(_flat(TRIALS))


def test_five_folds_of_five_trials_per_action_leave_one_trial_of_each_action_out():
    for f in make_folds(TRIALS, 5):
        assert len(f.validation["basketball"]) == 1 and len(f.validation["running"]) == 1
        assert len(f.validation["walking_extra"]) == 8
        assert len(f.train["basketball"]) == 4


def test_an_action_with_fewer_trials_than_folds_is_validated_in_as_many_folds():
    holding = [f.index for f in make_folds(TRIALS, 5) if "directing_traffic" in f.validation]
    assert len(holding) == 2


def test_the_same_listing_and_seed_give_the_same_folds_whatever_the_listed_order():
    shuffled = {a: list(reversed(t)) for a, t in reversed(list(TRIALS.items()))}
    assert fold_assignment(TRIALS, 5, seed=3) == fold_assignment(TRIALS, 5, seed=3)
    first = [sorted(_flat(f.validation)) for f in make_folds(TRIALS, 5, seed=3)]
    again = [sorted(_flat(f.validation)) for f in make_folds(shuffled, 5, seed=3)]
    assert first == again


def test_another_seed_deals_the_trials_differently():
    assert fold_assignment(TRIALS, 5, seed=0) != fold_assignment(TRIALS, 5, seed=1)


def test_one_fold_or_more_folds_than_trials_is_refused_with_the_number():
    with pytest.raises(ValueError, match="at least 2, got 1"):
        make_folds(TRIALS, 1)
    with pytest.raises(ValueError, match="num_folds 60 exceeds the 52 trials"):
        make_folds(TRIALS, 60)


def test_a_fold_index_outside_the_folds_is_refused_with_the_valid_range():
    with pytest.raises(ValueError, match=r"fold 5 does not exist.*0 \.\. 4"):
        fold(TRIALS, 5, 5)


def test_a_trial_listed_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        make_folds({"a": ["a_1", "a_1", "a_2"]}, 2)


def test_validation_names_are_the_sorted_file_names():
    from pathlib import Path

    trials = {"a": [Path("/d/a/a_2.txt.gz"), Path("/d/a/a_1.txt.gz")]}
    names = sorted(n for f in make_folds(trials, 2) for n in f.validation_names())
    assert names == ["a_1.txt.gz", "a_2.txt.gz"]
