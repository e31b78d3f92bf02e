"""The coverage study's bookkeeping: which trials test which calibration, how trials are
weighted, and the static table rescaled to a given coverage."""

import numpy as np
import pytest

from nermo_ros.evaluation.coverage import folds, matched_static, score, trial_weights
from nermo_ros.evaluation.coverage_forecasts import Forecasts


def forecasts(trials: list[str]) -> Forecasts:
    n, g, j = len(trials), 2, 3
    zeros = np.zeros((n, g, j))
    return Forecasts(np.array(trials), np.array(trials), np.full(n, "complete"),
                     np.zeros((n, j, 7)), np.ones((n, j), bool), zeros, zeros,
                     np.zeros((n, g)), np.zeros((n, g)), zeros)


def test_every_trial_weighs_the_same_however_many_forecasts_it_has():
    weights = trial_weights(forecasts(["walk", "walk", "walk", "run"]))
    np.testing.assert_allclose(weights, [1 / 3, 1 / 3, 1 / 3, 1.0])


def test_leave_one_trial_out_tests_each_trial_alone_and_halves_alternate_in_name_order():
    names = ["c_1", "a_1", "d_1", "b_1"]
    assert folds(names, "leave_one_trial_out") == [["a_1"], ["b_1"], ["c_1"], ["d_1"]]
    assert folds(names, "halves") == [["a_1", "c_1"], ["b_1", "d_1"]]
    with pytest.raises(ValueError, match="unknown protocol 'thirds'"):
        folds(names, "thirds")


def test_the_static_table_rescaled_covers_exactly_the_target_share():
    rng = np.random.default_rng(0)
    errors = rng.exponential(size=(1000, 2, 3))
    seen = np.ones((1000, 3), bool)
    static = np.ones((1000, 2, 3))
    matched = matched_static(errors, static, seen, np.array([0.9, 0.5]))
    np.testing.assert_allclose(score(errors, matched, seen).coverage, [0.9, 0.5])
