"""The NeRMo predictor's radius: from the calibration beside its checkpoint, refused when that
calibration is another model's, and declared uncalibrated when there is none."""

import dataclasses
import shutil

import numpy as np
import pytest

from nermo_ros.forecasting.calibration import (LEVELS, Calibration, ScaleModel,
                                               gaussian_radius_factor)
from nermo_ros.forecasting.calibration_file import save_calibrations, sidecar_path
from nermo_ros.forecasting.difficulty import FEATURE_NAMES
from nermo_ros.forecasting.report_hold import DEFAULT_HOLD_JITTER_M, DEFAULT_HOLD_TIME_S
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.predictors.nermo import NermoPredictor
from nermo_ros.skeleton import NUM_JOINTS
from predictor_fixtures import nermo_checkpoint

HORIZONS_S = np.array([0.4, 1.0])
GRID_S = np.array([0.04, 1.0])


@pytest.fixture
def checkpoint(tmp_path):
    """A copy of the checkpoint in a folder of its own, so each test sets its sidecar."""
    source = nermo_checkpoint(tmp_path)
    copy = tmp_path / "model" / "nermo_body17.pt"
    copy.parent.mkdir()
    shutil.copy(source, copy)
    return copy


def flat_calibration(model_id: str, steps: int, mirror_average: bool = False,
                     hold: tuple[float, float] = (DEFAULT_HOLD_TIME_S, DEFAULT_HOLD_JITTER_M)
                     ) -> Calibration:
    """Every seen joint's radius is 2 x 0.1 m: a scale of 0.1 m whatever the features, no
    travel term, and a score quantile of 2 at every coverage. Made on plain forecasts with the
    default hold (the node's defaults) unless told otherwise."""
    k = len(FEATURE_NAMES)
    scale = ScaleModel(FEATURE_NAMES, np.full((2, NUM_JOINTS), np.log(0.1)), np.zeros((2, k)),
                       np.full(k, -1e9), np.full(k, 1e9))
    return Calibration(GRID_S, LEVELS.copy(), np.full((len(LEVELS), 2), 2.0), scale,
                       np.zeros(2), model_id,
                       {"num_adapt_steps": steps, "mirror_average": mirror_average,
                        "hold_time_s": hold[0], "hold_jitter_m": hold[1]})


def window(hidden_joint: int) -> WindowBatch:
    """A still, standing person over 10 frames at 25 Hz with one joint never seen."""
    times = (np.arange(10) - 9) * 0.04
    positions = np.zeros((1, 10, NUM_JOINTS, 3), np.float32)
    positions[..., 2] = np.linspace(0.0, 1.7, NUM_JOINTS)
    mask = np.ones((1, 10, NUM_JOINTS), bool)
    mask[..., hidden_joint] = False
    return WindowBatch(times[None], positions, mask, np.ones((1, 10), bool), ["p"])


def test_a_calibrated_predictor_publishes_the_calibrated_radius_and_its_coverage(checkpoint):
    model_id = NermoPredictor(checkpoint, backend="torch", calibration=None).model_id
    save_calibrations(sidecar_path(checkpoint), model_id, [flat_calibration(model_id, 1)])
    predictor = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1)
    assert predictor.radius_coverage == 0.9 and "calibrated by" in predictor.radius_note
    forecast = predictor.predict(window(hidden_joint=5), HORIZONS_S)
    assert forecast.coverage == pytest.approx(0.9)
    seen = np.arange(NUM_JOINTS) != 5
    np.testing.assert_allclose(forecast.radius_m[0][:, seen], 0.2, rtol=1e-5)
    # a joint never seen: the Gaussian radius of unobserved_sigma_m (1 m)
    np.testing.assert_allclose(forecast.radius_m[0][:, 5], gaussian_radius_factor(0.9), rtol=1e-5)


def test_a_calibration_made_for_another_model_is_refused(checkpoint):
    save_calibrations(sidecar_path(checkpoint), "0123456789ab",
                      [flat_calibration("0123456789ab", 1)])
    with pytest.raises(ValueError, match="calibrates model '0123456789ab', not the checkpoint's"):
        NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1)


def test_without_a_calibration_the_radius_is_the_gaussian_one_and_says_coverage_0(checkpoint):
    predictor = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1)
    assert predictor.radius_coverage == 0.0
    assert "not calibrated: no calibration for model" in predictor.radius_note
    assert predictor.fallback_reason == ""  # the engine runs as asked
    forecast = predictor.predict(window(hidden_joint=5), HORIZONS_S)
    assert forecast.coverage == 0.0
    np.testing.assert_allclose(forecast.radius_m,
                               gaussian_radius_factor(0.9) * forecast.uncertainty_m, rtol=1e-5)


def test_a_calibration_for_other_adaptation_steps_is_not_used_and_says_which_it_has(checkpoint):
    model_id = NermoPredictor(checkpoint, backend="torch", calibration=None).model_id
    save_calibrations(sidecar_path(checkpoint), model_id, [flat_calibration(model_id, 1)])
    predictor = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=2)
    assert predictor.radius_coverage == 0.0
    assert ("calibrates 1 adaptation steps, unmirrored, hold 0.3 s at 25 mm jitter, not 2 "
            "adaptation steps" in predictor.radius_note)
    assert "nermo-ros calibrate --steps 2 --no-mirror-average" in predictor.radius_note


def test_a_calibration_for_the_other_mirror_choice_is_not_used_and_says_how_to_fix_it(checkpoint):
    model_id = NermoPredictor(checkpoint, backend="torch", calibration=None).model_id
    save_calibrations(sidecar_path(checkpoint), model_id,
                      [flat_calibration(model_id, 1, mirror_average=False)])
    mirrored = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1, mirror_average=True)
    assert mirrored.radius_coverage == 0.0
    assert ("calibrates 1 adaptation steps, unmirrored, hold 0.3 s at 25 mm jitter, not 1 "
            "adaptation steps, mirror-averaged" in mirrored.radius_note
            and "calibrate --steps 1 --mirror-average" in mirrored.radius_note)
    plain = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1)  # the default
    assert plain.radius_coverage == 0.9 and "unmirrored" in plain.radius_note
    save_calibrations(sidecar_path(checkpoint), model_id,
                      [flat_calibration(model_id, 1, mirror_average=True)])
    plain = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1)
    assert plain.radius_coverage == 0.0 and "not 1 adaptation steps, unmirrored" in plain.radius_note


def test_a_calibration_for_another_hold_is_not_used_and_says_which_it_has(checkpoint):
    model_id = NermoPredictor(checkpoint, backend="torch", calibration=None).model_id
    save_calibrations(sidecar_path(checkpoint), model_id,
                      [flat_calibration(model_id, 1, hold=(0.0, 0.0))])
    held = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1)
    assert held.radius_coverage == 0.0
    assert ("calibrates 1 adaptation steps, unmirrored, no hold, not 1 adaptation steps, "
            "unmirrored, hold 0.3 s at 25 mm jitter" in held.radius_note)
    # the hold switched off matches it, whatever hold_jitter_m says
    unheld = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1, hold_time_s=0.0,
                            hold_jitter_m=0.5)
    assert unheld.radius_coverage == 0.9 and "no hold" in unheld.radius_note


def test_a_calibration_made_before_the_mirror_choice_counts_as_unmirrored(checkpoint):
    model_id = NermoPredictor(checkpoint, backend="torch", calibration=None).model_id
    old = dataclasses.replace(flat_calibration(model_id, 1), info={"num_adapt_steps": 1})
    save_calibrations(sidecar_path(checkpoint), model_id, [old])
    assert not old.mirror_average and old.report_hold == (0.0, 0.0)  # and as made without hold
    assert NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1, mirror_average=False,
                          hold_time_s=0.0).radius_coverage == 0.9


def test_a_named_calibration_file_that_does_not_exist_is_refused(checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json does not exist"):
        NermoPredictor(checkpoint, backend="torch", calibration=tmp_path / "missing.json")
