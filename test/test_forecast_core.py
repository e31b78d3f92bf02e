"""The per-frame core the node and offline evaluation share: no garbage in, none out, no
overload of slots by people who left (pure Python, no DDS)."""

from dataclasses import dataclass

import numpy as np
import pytest

from nermo_ros.forecasting.core import TRACK_EVICTED, ForecastCore
from nermo_ros.forecasting.settings import settings_from
from nermo_ros.predictors.base import ForecastBatch
from nermo_ros.predictors.baselines import ConstantVelocityPredictor
from nermo_ros.skeleton import LAYOUT_ID, NUM_JOINTS
from nermo_ros.tracking.validation import Reason

MS = 1_000_000
HOUR_NS = 3600 * 1000 * MS


@dataclass
class Person:
    track_id: str
    positions: np.ndarray
    confidence: np.ndarray
    layout: str = LAYOUT_ID
    joint_names: tuple = ()


def standing(track_id: str, x_m: float = 0.0) -> Person:
    body = np.zeros((NUM_JOINTS, 3), np.float32)
    body[:, 0] = x_m
    body[:, 2] = np.linspace(0.0, 1.7, NUM_JOINTS)
    return Person(track_id, body.reshape(-1), np.ones(NUM_JOINTS, np.float32))


def make_core(predictor=None, **settings) -> ForecastCore:
    return ForecastCore(predictor or ConstantVelocityPredictor(),
                        settings_from({"max_stamp_age_s": 0.0, **settings}))


def test_a_person_seen_twice_is_forecast_and_counted():
    core = make_core()
    assert core.process(0, [standing("a")]).track_ids == []
    result = core.process(33 * MS, [standing("a")])
    assert result.answered and result.track_ids == ["a"]
    assert result.forecast.positions.shape == (1, 9, NUM_JOINTS, 3)
    assert core.forecasts_out == 1 and core.frames_answered == 2


@pytest.mark.parametrize("value", [1e30, float(np.finfo(np.float32).max)])
def test_finite_but_huge_positions_are_dropped_and_never_forecast(value):
    core = make_core()
    core.process(0, [standing("a")])
    huge = standing("a")
    huge.positions[:] = value
    result = core.process(33 * MS, [huge])
    assert not result.answered and result.track_ids == []
    assert core.counts[Reason.IMPLAUSIBLE_POSITION] == 1


def test_a_jump_faster_than_a_person_is_held_a_frame_then_starts_the_person_over():
    core = make_core(max_distance_m=2000.0)
    for t in (0, 33, 66):
        core.process(t * MS, [standing("a")])
    held = core.process(100 * MS, [standing("a", x_m=1000.0)])  # 1 km in 34 ms
    assert not held.answered and held.track_ids == []  # no answer rather than "nobody"
    assert core.counts[Reason.JUMP_HELD] == 1 and core.counts[Reason.IMPLAUSIBLE_JUMP] == 0
    result = core.process(133 * MS, [standing("a", x_m=1000.1)])
    assert core.counts[Reason.IMPLAUSIBLE_JUMP] == 1
    assert core.tracker.num_frames("a") == 2 and result.track_ids == ["a"]


def test_a_glitched_frame_is_counted_and_the_person_keeps_their_window():
    core = make_core(max_distance_m=2000.0)
    for t in (0, 33, 66):
        core.process(t * MS, [standing("a")])
    glitch = standing("a")
    glitch.positions[3 * 5:3 * 5 + 3] += 1.5  # one joint 1.5 m off for one frame
    assert core.process(100 * MS, [glitch, standing("b")]).track_ids == []  # b is new
    result = core.process(133 * MS, [standing("a"), standing("b")])
    assert result.track_ids == ["a", "b"]
    assert core.counts[Reason.JUMP_HELD] == 1 and core.counts[Reason.IMPLAUSIBLE_JUMP] == 0
    assert core.tracker.num_frames("a") == 4


def test_a_stamp_an_hour_ahead_is_refused_and_does_not_expire_everyone_else():
    core = make_core()
    now = 10 * 1000 * MS
    core.process(now, [standing("a")], now_ns=now)
    result = core.process(now + HOUR_NS, [standing("b")], now_ns=now + 10 * MS)
    assert not result.answered and core.counts[Reason.FUTURE_STAMP] == 1
    later = core.process(now + 33 * MS, [standing("a")], now_ns=now + 40 * MS)
    assert later.track_ids == ["a"]  # "a" kept its window


class DivergingPredictor(ConstantVelocityPredictor):
    """Forecasts NaN for the first person of each batch (a diverged fit)."""

    name = "diverging"

    def __init__(self):
        super().__init__()
        self.resets: list[str] = []

    def predict(self, batch, horizons_s):
        forecast = super().predict(batch, horizons_s)
        positions = forecast.positions.copy()
        positions[0] = np.nan
        return ForecastBatch(positions, forecast.uncertainty_m, forecast.radius_m,
                             forecast.coverage)

    def reset_track(self, track_id):
        self.resets.append(track_id)


def test_a_non_finite_forecast_is_withheld_counted_and_its_state_dropped():
    predictor = DivergingPredictor()
    core = make_core(predictor)
    core.process(0, [standing("a"), standing("b", 2.0)])
    result = core.process(33 * MS, [standing("a"), standing("b", 2.0)])
    assert result.track_ids == ["b"] and result.forecast.positions.shape[0] == 1
    assert np.isfinite(result.forecast.positions).all()
    assert result.forecast.radius_m.shape[0] == 1  # the others keep their radius
    assert core.counts[Reason.FORECAST_NON_FINITE] == 1 and predictor.resets == ["a"]


class TeleportingPredictor(ConstantVelocityPredictor):
    name = "teleporting"

    def predict(self, batch, horizons_s):
        forecast = super().predict(batch, horizons_s)
        return ForecastBatch(forecast.positions + 50.0, forecast.uncertainty_m)


def test_a_forecast_faster_than_a_person_is_withheld():
    core = make_core(TeleportingPredictor())
    core.process(0, [standing("a")])
    result = core.process(33 * MS, [standing("a")])
    assert result.answered and result.track_ids == []
    assert core.counts[Reason.FORECAST_IMPLAUSIBLE] == 1


def test_in_a_churn_of_short_lived_people_everyone_gets_forecast():
    core = make_core(max_tracks=16)
    forecast_ids: set[str] = set()
    people = 2000
    for frame in range(people + 3):
        stamp = frame * 33 * MS
        # Person k is in view for frames k .. k + 3, then leaves for good.
        present = [standing(f"p{k}", x_m=0.01 * k) for k in range(max(0, frame - 3), frame + 1)
                   if k < people]
        forecast_ids.update(core.process(stamp, present).track_ids)
    assert len(forecast_ids) == people
    assert core.counts[TRACK_EVICTED] > 0 and core.counts[Reason.TOO_MANY_TRACKS] == 0


@pytest.mark.parametrize("input_error_m", [[0.2], list(np.linspace(0.05, 0.4, NUM_JOINTS))])
def test_the_input_s_own_error_widens_the_radius_and_the_sigma(input_error_m):
    from nermo_ros.forecasting.calibration import gaussian_radius_factor

    plain, widened = make_core(), make_core(input_error_m=input_error_m)
    for core in (plain, widened):
        core.process(0, [standing("a")])
    before = plain.process(33 * MS, [standing("a", 0.01)]).forecast
    after = widened.process(33 * MS, [standing("a", 0.01)]).forecast
    error = np.asarray(input_error_m, np.float32)
    np.testing.assert_array_equal(after.positions, before.positions)
    np.testing.assert_allclose(after.radius_m, before.radius_m + error, rtol=1e-6)
    np.testing.assert_allclose(after.uncertainty_m,
                               np.hypot(before.uncertainty_m, error / gaussian_radius_factor(0.9)),
                               rtol=1e-6)
    assert after.coverage == before.coverage


@pytest.mark.parametrize("value", [[0.1, 0.2], [-0.1]])
def test_an_input_error_for_some_joints_or_below_zero_is_refused(value):
    with pytest.raises(ValueError, match="input_error_m.*1 value or 17"):
        make_core(input_error_m=value)
