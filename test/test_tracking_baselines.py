"""Zero- and constant-velocity baselines on windows with known answers."""

import numpy as np
import pytest

from nermo_ros.predictors.baselines import ConstantVelocityPredictor, ZeroVelocityPredictor
from nermo_ros.predictors.factory import make_predictor
from nermo_ros.skeleton import NUM_JOINTS
from nermo_ros.forecasting.settings import settings_from
from nermo_ros.tracking.tracker import Tracker

HORIZONS_S = np.array([0.1, 0.4, 1.0])
VELOCITY_MPS = np.array([1.0, -0.5, 0.25])


def walking_window(stamps_s, observed=None) -> Tracker:
    """Every joint moves at VELOCITY_MPS from its own start point, sampled at stamps_s."""
    tracker = Tracker(settings_from({"window_frames": 10, "window_s": 2.0}).tracker_settings())
    start = np.arange(NUM_JOINTS * 3, dtype=float).reshape(NUM_JOINTS, 3) * 0.01
    for i, t in enumerate(stamps_s):
        seen = np.ones(NUM_JOINTS, bool) if observed is None else observed[i]
        tracker.push("a", int(round(t * 1e9)), start + VELOCITY_MPS * t, seen)
    return tracker, start


IRREGULAR_S = [0.0, 0.03, 0.07, 0.1, 0.16, 0.2]


def test_constant_velocity_extrapolates_a_straight_walk_exactly():
    tracker, start = walking_window(IRREGULAR_S)
    forecast = ConstantVelocityPredictor().predict(tracker.batch(["a"]), HORIZONS_S)
    expected = start + VELOCITY_MPS * (0.2 + HORIZONS_S[:, None, None])
    np.testing.assert_allclose(forecast.positions[0], expected, atol=1e-5)


def test_zero_velocity_repeats_the_last_pose():
    tracker, start = walking_window(IRREGULAR_S)
    forecast = ZeroVelocityPredictor().predict(tracker.batch(["a"]), HORIZONS_S)
    np.testing.assert_allclose(forecast.positions[0], np.broadcast_to(
        start + VELOCITY_MPS * 0.2, (3, NUM_JOINTS, 3)), atol=1e-6)


@pytest.mark.parametrize("predictor", [ZeroVelocityPredictor(), ConstantVelocityPredictor()])
def test_uncertainty_grows_with_the_horizon(predictor):
    tracker, _ = walking_window(IRREGULAR_S)
    sigma = predictor.predict(tracker.batch(["a"]), HORIZONS_S).uncertainty_m[0]
    assert (np.diff(sigma, axis=0) > 0).all() and (sigma > 0).all()


def test_zero_velocity_admits_more_uncertainty_than_constant_velocity_for_a_moving_person():
    tracker, _ = walking_window(IRREGULAR_S)
    batch = tracker.batch(["a"])
    zero = ZeroVelocityPredictor().predict(batch, HORIZONS_S).uncertainty_m
    constant = ConstantVelocityPredictor().predict(batch, HORIZONS_S).uncertainty_m
    assert (zero > constant).all()


def test_a_joint_missing_lately_is_forecast_from_its_last_sighting():
    observed = np.ones((len(IRREGULAR_S), NUM_JOINTS), bool)
    observed[-2:, 5] = False  # right hip unseen in the two newest frames
    tracker, start = walking_window(IRREGULAR_S, observed)
    batch = tracker.batch(["a"])
    constant = ConstantVelocityPredictor().predict(batch, HORIZONS_S)
    np.testing.assert_allclose(constant.positions[0, :, 5],
                               start[5] + VELOCITY_MPS * (0.2 + HORIZONS_S[:, None]), atol=1e-5)
    zero = ZeroVelocityPredictor().predict(batch, HORIZONS_S)
    np.testing.assert_allclose(zero.positions[0, 0, 5], start[5] + VELOCITY_MPS * 0.1,
                               atol=1e-6)
    assert zero.uncertainty_m[0, 0, 5] > zero.uncertainty_m[0, 0, 4]


def test_a_joint_never_seen_sits_at_the_body_centre_with_large_uncertainty():
    observed = np.ones((len(IRREGULAR_S), NUM_JOINTS), bool)
    observed[:, 16] = False
    tracker, _ = walking_window(IRREGULAR_S, observed)
    forecast = ConstantVelocityPredictor().predict(tracker.batch(["a"]), HORIZONS_S)
    centre = forecast.positions[0, :, :16].mean(axis=1)
    np.testing.assert_allclose(forecast.positions[0, :, 16], centre, atol=1e-5)
    assert (forecast.uncertainty_m[0, :, 16] == 1.0).all()


@pytest.mark.parametrize("predictor", [ZeroVelocityPredictor(), ConstantVelocityPredictor()])
def test_hidden_positions_never_reach_the_forecast_even_when_they_are_nan(predictor):
    observed = np.ones((len(IRREGULAR_S), NUM_JOINTS), bool)
    observed[:, 16] = False  # never seen
    observed[-2:, 5] = False  # unseen lately
    tracker, _ = walking_window(IRREGULAR_S, observed)
    batch = tracker.batch(["a"])
    clean = predictor.predict(batch, HORIZONS_S)
    poisoned = np.where(batch.joint_mask[..., None], batch.positions, np.nan)
    forecast = predictor.predict(type(batch)(batch.times_s, poisoned, batch.joint_mask,
                                             batch.frame_valid, batch.track_ids), HORIZONS_S)
    np.testing.assert_array_equal(forecast.positions, clean.positions)
    assert np.isfinite(forecast.uncertainty_m).all()


def test_a_single_frame_gives_a_still_forecast_with_speed_uncertainty():
    tracker, start = walking_window([0.0])
    forecast = ConstantVelocityPredictor().predict(tracker.batch(["a"]), HORIZONS_S)
    np.testing.assert_allclose(forecast.positions[0, -1], start, atol=1e-6)
    # 1 m/s of unknown speed over 1 s: at least 1 m of RMS 3D error.
    assert np.sqrt(3) * forecast.uncertainty_m[0, -1].min() >= 1.0


def test_factory_builds_baselines_by_name_and_refuses_unknown_names():
    assert make_predictor("zero_velocity").name == "zero_velocity"
    assert make_predictor("constant_velocity", backend="auto").name == "constant_velocity"
    with pytest.raises(ValueError, match="unknown predictor 'lstm'"):
        make_predictor("lstm")


def rms_sigma_over_rms_error(clips, predictor, horizons_s):
    """Per horizon: RMS 3D error the uncertainty implies / RMS actual 3D joint error."""
    errors, sigmas = [], []
    for clip in clips:
        tracker = Tracker(settings_from({"window_frames": 30, "window_s": 1.0}).tracker_settings())
        for i, t_s in enumerate(clip.times_s):
            tracker.push("a", int(round(t_s * 1e9)), clip.positions_m[i], np.ones(NUM_JOINTS, bool))
            targets_s = t_s + horizons_s
            if i < 5 or i % 3 or targets_s[-1] > clip.times_s[-1]:
                continue
            forecast = predictor.predict(tracker.batch(["a"]), horizons_s)
            truth = np.stack([np.apply_along_axis(lambda x: np.interp(targets_s, clip.times_s, x),
                                                  0, clip.positions_m.reshape(len(clip.times_s), -1))
                              ]).reshape(len(horizons_s), NUM_JOINTS, 3)
            errors.append(np.linalg.norm(forecast.positions[0] - truth, axis=-1))
            sigmas.append(np.sqrt(3) * forecast.uncertainty_m[0])  # per-axis -> RMS 3D
    errors, sigmas = np.array(errors), np.array(sigmas)
    return np.sqrt((sigmas ** 2).mean(axis=(0, 2))) / np.sqrt((errors ** 2).mean(axis=(0, 2)))


CALIBRATION_HORIZONS_S = np.array([0.4, 1.0])


@pytest.mark.parametrize("predictor", [ZeroVelocityPredictor(), ConstantVelocityPredictor()])
def test_uncertainty_is_honest_on_a_real_recorded_walk(predictor):
    from nermo_ros.data.pybullet_clips import DEFAULT_CLIP, load_clip

    ratio = rms_sigma_over_rms_error([load_clip(DEFAULT_CLIP, cycles=3)], predictor,
                                     CALIBRATION_HORIZONS_S)
    assert ((ratio > 0.7) & (ratio < 2.0)).all(), ratio


@pytest.mark.shared_data
@pytest.mark.parametrize("predictor", [ZeroVelocityPredictor(), ConstantVelocityPredictor()])
def test_uncertainty_is_honest_on_held_out_cmu_mocap(predictor):
    from nermo_ros.data import cmu
    from nermo_ros.data.clip import Clip

    root = cmu.default_data_dir()
    if not root.is_dir():
        pytest.skip(f"CMU mocap data not found at {root} (set NERMO_CMU_DIR)")
    skeleton = cmu.load_skeleton(cmu.find_skeleton_json(root))
    _, held_out = cmu.heldout_split(cmu.list_trials(root))
    clips = [cmu.load_trial(path, skeleton, global_motion=True)
             for action in ("walking", "basketball", "soccer") for path in held_out[action]]
    # Frame 0 of these files is a rest pose, not part of the motion.
    clips = [Clip(c.times_s[1:], c.positions_m[1:], c.name) for c in clips]
    ratio = rms_sigma_over_rms_error(clips, predictor, CALIBRATION_HORIZONS_S)
    assert ((ratio > 0.7) & (ratio < 2.5)).all(), ratio


def test_nermo_predictor_is_built_by_name_with_the_node_settings_it_takes(tmp_path):
    from predictor_fixtures import nermo_checkpoint

    predictor = make_predictor("nermo", checkpoint=nermo_checkpoint(tmp_path), backend="torch",
                               num_adapt_steps=1, window_frames=30, horizons_s=(0.4, 1.0))
    assert predictor.name == "nermo" and predictor.steps == 1 and predictor.backend == "torch"


def test_a_predictor_gets_only_the_settings_it_takes():
    from nermo_ros.predictors.factory import accepted_settings

    class Picky:
        def __init__(self, backend: str, checkpoint: str = ""):
            pass

    class Open:
        def __init__(self, **settings):
            pass

    settings = {"backend": "auto", "checkpoint": "", "window_frames": 30}
    assert accepted_settings(Picky, settings) == {"backend": "auto", "checkpoint": ""}
    assert accepted_settings(Open, settings) == settings


def test_warm_up_forecasts_once_and_leaves_no_track_behind():
    from nermo_ros.predictors.factory import warm_up

    class Recording(ConstantVelocityPredictor):
        def __init__(self):
            super().__init__()
            self.calls, self.resets = [], []

        def predict(self, batch, horizons_s):
            self.calls.append((batch.positions.shape, tuple(horizons_s)))
            return super().predict(batch, horizons_s)

        def reset_track(self, track_id):
            self.resets.append(track_id)

    predictor = Recording()
    assert warm_up(predictor, HORIZONS_S, window_frames=30) > 0
    assert predictor.calls == [((1, 30, NUM_JOINTS, 3), tuple(HORIZONS_S))]
    assert predictor.resets == ["__warm_up__"]
