"""The calibrated radius: conformal quantiles with known answers, a normalised radius that holds
its coverage on fresh data with less room than a static table, and the calibration file."""

import json

import numpy as np
import pytest

from nermo_ros.forecasting.calibration import (LEVELS, conformal_quantile, fit_calibration,
                                               fit_scale_model, gaussian_radius_factor)
from nermo_ros.forecasting.calibration_file import (load_calibrations, save_calibrations,
                                                    sidecar_path)

CHI3_90 = 2.5002777  # sqrt of the 90 % quantile of chi-square with 3 degrees of freedom


def test_the_conformal_quantile_of_1_to_99_at_90_percent_is_the_90th_score():
    scores = np.random.default_rng(0).permutation(np.arange(1.0, 100.0))
    # rank ceil((99 + 1) * 0.9) = 90
    assert conformal_quantile(scores, np.array([0.9, 0.5]))[0] == 90.0
    assert conformal_quantile(scores, np.array([0.5]))[0] == 50.0


def test_too_few_scores_for_a_coverage_give_an_infinite_radius():
    assert conformal_quantile(np.arange(5.0), np.array([0.9]))[0] == np.inf


def test_the_gaussian_radius_holding_90_percent_is_2_50_sigma():
    assert gaussian_radius_factor(0.9) == pytest.approx(CHI3_90, abs=1e-5)
    with pytest.raises(ValueError, match="coverage must be in"):
        gaussian_radius_factor(1.0)


def synthetic(n: int, seed: int, horizons: int = 2, joints: int = 3):
    """Errors whose RMS is exp(0.5 * feature) times a joint and horizon level: isotropic 3D
    Gaussian errors of per-axis sigma = that RMS / sqrt(3)."""
    rng = np.random.default_rng(seed)
    features = rng.uniform(-2.0, 2.0, size=(n, joints, 1))
    level = np.array([0.05, 0.1, 0.2])[:joints] * np.arange(1, horizons + 1)[:, None]
    rms = level[None] * np.exp(0.5 * features[:, None, :, 0])  # (n, H, J)
    sigma = rms / np.sqrt(3.0)
    errors = np.linalg.norm(rng.normal(size=rms.shape + (3,)), axis=-1) * sigma
    return features, errors


def test_a_normalised_radius_holds_its_coverage_on_fresh_data_with_less_room_than_a_static_one():
    features, errors = synthetic(20000, seed=1)
    scored = np.ones(errors.shape, bool)
    model = fit_scale_model(("f",), features, errors, scored)
    scale = model.grid_scale_m(features)
    calibration = fit_calibration(np.array([0.5, 1.0]), errors / scale, scored, model)
    # the model is right, so the score is |z| / sqrt(3) for a 3D standard normal z
    assert calibration.score_quantile[list(LEVELS).index(0.9)] == pytest.approx(
        CHI3_90 / np.sqrt(3.0), rel=0.02)
    test_features, test_errors = synthetic(20000, seed=2)
    prepared = calibration.prepared(np.array([0.5, 1.0]), 0.9)
    radius = prepared.radius_m(prepared.scale_m(test_features))
    coverage = (test_errors <= radius).mean(axis=(0, 2))
    np.testing.assert_allclose(coverage, 0.9, atol=0.01)
    static = np.quantile(errors, 0.9, axis=0)  # (H, J), the same for every forecast
    static_coverage = (test_errors <= static[None]).mean(axis=(0, 2))
    np.testing.assert_allclose(static_coverage, 0.9, atol=0.01)
    assert (radius.mean(axis=(0, 2)) < 0.85 * static.mean(axis=1)).all()


def test_radii_between_calibrated_horizons_are_interpolated_and_grow_linearly_beyond():
    features, errors = synthetic(2000, seed=3, joints=1)
    scored = np.ones(errors.shape, bool)
    calibration = fit_calibration(np.array([0.5, 1.0]), errors, scored)  # scale 1: raw errors
    q = calibration.prepared(np.array([0.5, 1.0]), 0.9).quantile
    between = calibration.prepared(np.array([0.25, 0.75, 2.0]), 0.9).quantile
    np.testing.assert_allclose(between, [q[0], q.mean(), 2.0 * q[1]])


def test_a_coverage_outside_the_calibrated_levels_is_refused():
    calibration = fit_calibration(np.array([1.0]), np.ones((10, 1, 1)), np.ones((10, 1, 1), bool))
    with pytest.raises(ValueError, match="coverage=0.999 is outside the calibrated levels"):
        calibration.prepared(np.array([1.0]), 0.999)


def test_a_calibration_file_reads_back_for_its_model_and_is_refused_for_another(tmp_path):
    features, errors = synthetic(500, seed=4)
    scored = np.ones(errors.shape, bool)
    model = fit_scale_model(("f",), features, errors, scored)
    made = fit_calibration(np.array([0.5, 1.0]), errors / model.grid_scale_m(features), scored,
                           model, np.array([0.3, 0.4]), "abc123", {"num_adapt_steps": 1})
    path = sidecar_path(tmp_path / "model.pt")
    assert path.name == "model.calibration.json"
    save_calibrations(path, "abc123", [made])
    (read,) = load_calibrations(path, "abc123")
    assert read.num_adapt_steps == 1
    for name in ("score_quantile", "travel_gain"):
        np.testing.assert_allclose(getattr(read, name), getattr(made, name))
    np.testing.assert_allclose(read.scale_model.feature_weight, model.feature_weight)
    with pytest.raises(ValueError, match="calibrates model 'abc123', not the checkpoint's model "
                                         "'def456'"):
        load_calibrations(path, "def456")
    path.write_text(json.dumps({"format": "something/else"}))
    with pytest.raises(ValueError, match="is not a readable calibration"):
        load_calibrations(path, "abc123")


def test_weights_make_a_small_group_count_as_much_as_a_large_one():
    scores = np.append(np.arange(1.0, 10.0), 100.0)  # nine of one trial, one of another
    weights = np.append(np.full(9, 1 / 9), 1.0)
    assert conformal_quantile(scores, np.array([0.5]))[0] == 6.0  # rank ceil(11 * 0.5)
    assert conformal_quantile(scores, np.array([0.5]), weights)[0] == 100.0
