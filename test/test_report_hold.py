"""The hold of a jittery newest report: jitter measured from the window, clean input left to
the model, a jittery or new person's forecast starting at the newest report, and the predictor
and its settings carrying it."""

import numpy as np
import pytest

from nermo_ros.forecasting.report_hold import (hold_newest_report, joint_jitter_m,
                                               person_jitter_m)
from nermo_ros.forecasting.settings import settings_from
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.predictors.nermo import NermoPredictor
from nermo_ros.skeleton import NUM_JOINTS
from predictor_fixtures import nermo_checkpoint

HORIZONS_S = np.array([0.04, 0.08, 0.4, 1.0])


def walking_window(frames: int = 15, period_s: float = 1 / 30, noise_m: float = 0.0,
                   seed: int = 0) -> WindowBatch:
    """One person walking along x at 1.2 m/s, arms swinging, seen at 30 Hz."""
    times = (np.arange(frames) - (frames - 1)) * period_s
    rest = np.zeros((NUM_JOINTS, 3))
    rest[:, 2] = np.linspace(0.0, 1.7, NUM_JOINTS)
    rest[:, 1] = np.linspace(-0.2, 0.2, NUM_JOINTS)
    swing = 0.3 * np.sin(2 * np.pi * 0.9 * times)[:, None] * np.linspace(0, 1, NUM_JOINTS)
    positions = np.repeat(rest[None], frames, axis=0)
    positions[..., 0] += 1.2 * times[:, None] + swing
    positions += np.random.default_rng(seed).normal(0.0, noise_m, positions.shape)
    return WindowBatch(times[None], positions[None], np.ones((1, frames, NUM_JOINTS), bool),
                       np.ones((1, frames), bool), ["walker"])


def model_forecast(batch: WindowBatch) -> np.ndarray:
    """A stand-in forecast: the newest frame carried on at the walking speed."""
    return batch.positions[:, -1][:, None] + np.array([1.2, 0.0, 0.0]) * HORIZONS_S[None, :, None,
                                                                                    None]


def test_jitter_is_near_zero_for_smooth_motion_and_near_the_noise_for_noisy_sightings():
    # a hand swinging at 1.7 m/s departs from a quadratic by a few mm over 0.5 s
    assert np.nanmax(joint_jitter_m(walking_window())) < 0.008
    noisy = person_jitter_m(walking_window(noise_m=0.03))
    # 30 mm per axis is 52 mm RMS in 3D
    assert 0.035 < noisy[0] < 0.07


def test_too_few_sightings_leave_the_jitter_unmeasured():
    batch = walking_window(frames=3)
    assert np.isnan(joint_jitter_m(batch)).all() and np.isnan(person_jitter_m(batch)).all()


def test_clean_input_keeps_the_model_forecast():
    batch = walking_window()
    forecast = model_forecast(batch)
    held = hold_newest_report(forecast, batch, HORIZONS_S, 0.3, 0.025)
    moved = np.linalg.norm(held - forecast, axis=-1).max()
    step = np.linalg.norm(forecast - batch.positions[:, -1][:, None], axis=-1).max()
    assert moved < 0.03 * step


def test_a_jittery_forecast_starts_at_the_newest_report_and_hands_over_to_the_model():
    batch = walking_window(noise_m=0.05)
    forecast = model_forecast(batch)
    held = hold_newest_report(forecast, batch, HORIZONS_S, 0.3, 0.025)
    newest = batch.positions[:, -1][:, None]
    share = 1 - (np.linalg.norm(held - newest, axis=-1)
                 / np.linalg.norm(forecast - newest, axis=-1)).mean(axis=(0, 2))
    assert share[0] > 0.7  # 40 ms: mostly the newest report
    assert np.all(np.diff(share) < 0) and share[-1] < 0.05  # 1 s: the model's
    np.testing.assert_array_equal(hold_newest_report(forecast, batch, HORIZONS_S, 0.0, 0.025),
                                  forecast)


def test_a_person_just_found_is_held_and_a_joint_missing_now_keeps_the_model_forecast():
    batch = walking_window(frames=3)
    batch.joint_mask[0, -1, 4] = False
    forecast = model_forecast(batch)
    held = hold_newest_report(forecast, batch, HORIZONS_S, 0.3, 0.025)
    np.testing.assert_array_equal(held[0, :, 4], forecast[0, :, 4])
    others = np.arange(NUM_JOINTS) != 4
    expected = np.exp(-0.04 / 0.3)  # unmeasured jitter holds fully
    newest = batch.positions[0, -1, others]
    np.testing.assert_allclose(held[0, 0, others],
                               forecast[0, 0, others] + expected * (newest - forecast[0, 0, others]))


def test_the_predictor_holds_a_jittery_person_and_leaves_a_clean_one_alone(tmp_path):
    checkpoint = nermo_checkpoint(tmp_path)
    held = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1, calibration=None)
    plain = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=1, calibration=None,
                           hold_time_s=0.0)
    assert (held.hold_time_s, held.hold_jitter_m) == (0.3, 0.025)  # the node's defaults
    jittery = walking_window(noise_m=0.05, seed=3)
    newest = jittery.positions[:, -1]
    gap = {name: np.linalg.norm(p.predict(jittery, HORIZONS_S).positions[:, 0] - newest,
                                axis=-1).mean()
           for name, p in (("held", held), ("plain", plain))}
    assert gap["held"] < 0.5 * gap["plain"]

    def change(batch):
        return np.linalg.norm(held.predict(batch, HORIZONS_S).positions
                              - plain.predict(batch, HORIZONS_S).positions, axis=-1).mean()

    assert change(walking_window()) < 0.1 * change(jittery)


@pytest.mark.parametrize("name, value, message", [
    ("hold_time_s", -0.1, r"hold_time_s=-0.1 must be >= 0"),
    ("hold_jitter_m", 0.0, r"hold_jitter_m=0.0 must be > 0"),
])
def test_a_hold_that_cannot_be_honoured_is_refused(name, value, message):
    with pytest.raises(ValueError, match=message):
        settings_from({name: value})


def test_the_predictor_refuses_a_zero_jitter_scale(tmp_path):
    with pytest.raises(ValueError, match="hold_jitter_m must be > 0"):
        NermoPredictor(nermo_checkpoint(tmp_path), backend="torch", calibration=None,
                       hold_jitter_m=0.0)


def test_unobserved_positions_may_be_nan_without_spreading():
    batch = walking_window(noise_m=0.05)
    batch.joint_mask[0, -4:, 2] = False  # the last four sightings of joint 2 lost
    batch.joint_mask[0, :, 7] = False  # joint 7 never seen
    batch.positions[~batch.joint_mask] = np.nan
    forecast = model_forecast(walking_window(noise_m=0.05))
    held = hold_newest_report(forecast, batch, HORIZONS_S, 0.3, 0.025)
    assert np.isfinite(held).all() and np.isfinite(joint_jitter_m(batch)[0, 2])
    np.testing.assert_array_equal(held[0, :, [2, 7]], forecast[0, :, [2, 7]])


def test_jitter_is_the_residual_of_a_least_squares_quadratic_per_joint():
    rng = np.random.default_rng(1)
    times = np.tile((np.arange(30) - 29) / 30.0, (3, 1))
    positions = 3.0 + rng.normal(size=(3, 30, NUM_JOINTS, 3)) * 0.03 + 1.2 * times[..., None, None]
    mask = rng.random((3, 30, NUM_JOINTS)) > 0.3
    batch = WindowBatch(times, positions, mask, np.ones((3, 30), bool), ["a", "b", "c"])
    expected = np.full((3, NUM_JOINTS), np.nan)
    for b in range(3):
        for j in range(NUM_JOINTS):
            sel = mask[b, :, j] & (times[b] >= -0.5)
            t = times[b, sel]
            basis = np.stack([np.ones_like(t), t, t * t], axis=1)
            coef = np.linalg.lstsq(basis, positions[b, sel, j], rcond=None)[0]
            residual = positions[b, sel, j] - basis @ coef
            expected[b, j] = np.sqrt((residual ** 2).sum() / (sel.sum() - 3))
    np.testing.assert_allclose(joint_jitter_m(batch), expected, rtol=1e-9)


def test_a_persons_jitter_is_the_median_over_the_joints_measured():
    rng = np.random.default_rng(2)
    times = np.tile((np.arange(20) - 19) / 30.0, (3, 1))
    positions = rng.normal(size=(3, 20, NUM_JOINTS, 3)) * 0.03
    mask = np.ones((3, 20, NUM_JOINTS), bool)
    mask[0, :, :5] = False  # 12 joints measured: the median of an even count
    mask[1, :, :4] = False  # 13: an odd count
    mask[2] = False  # nobody measured
    batch = WindowBatch(times, positions, mask, np.ones((3, 20), bool), ["a", "b", "c"])
    jitter = joint_jitter_m(batch)
    person = person_jitter_m(batch)
    np.testing.assert_allclose(person[:2], [np.median(jitter[0, 5:]), np.median(jitter[1, 4:])],
                               rtol=1e-12)
    assert np.isnan(person[2])
