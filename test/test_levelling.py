"""Standing the body upright before the model (level_body): the rotation itself, the shipped
model's forecasts of a tilted person with and without it (a real mocap walk), and what the
radius then says."""

import numpy as np
import pytest

from nermo_ros.checkpoint import MODELS_DIR
from nermo_ros.data.pybullet_clips import load_clip
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.predictors.levelling import rotate, upright_rotations
from nermo_ros.predictors.nermo import NermoPredictor
from nermo_ros.skeleton import JOINT_INDEX, NUM_JOINTS

PELVIS, NECK = JOINT_INDEX["pelvis"], JOINT_INDEX["neck"]
HORIZONS_S = np.array([0.08, 0.4, 1.0])
WINDOW = 10  # frames, as the node's model reads them


def pitch(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def batch_of(windows: np.ndarray, period_s: float) -> WindowBatch:
    b, t = windows.shape[:2]
    times = np.broadcast_to((np.arange(t) - (t - 1)) * period_s, (b, t)).copy()
    return WindowBatch(times, windows, np.ones((b, t, NUM_JOINTS), bool), np.ones((b, t), bool),
                       [f"p{i}" for i in range(b)])


def spine_tilt_deg(positions: np.ndarray) -> np.ndarray:
    spine = (positions[..., NECK, :] - positions[..., PELVIS, :]).mean(axis=-2)
    return np.degrees(np.arccos(spine[..., 2] / np.linalg.norm(spine, axis=-1)))


@pytest.mark.parametrize("degrees", [0.0, 35.0, 120.0, 180.0])
def test_the_rotation_stands_the_mean_spine_upright_and_is_proper(degrees):
    clip = load_clip()
    window = (clip.positions_m[:WINDOW] - clip.positions_m[WINDOW - 1, PELVIS]) @ pitch(degrees).T
    turn = upright_rotations(batch_of(window[None], 1 / 30), PELVIS, NECK)
    assert np.allclose(turn[0] @ turn[0].T, np.eye(3)) and np.isclose(np.linalg.det(turn[0]), 1)
    assert spine_tilt_deg(rotate(window[None], turn))[0] == pytest.approx(0.0, abs=1e-5)


def test_a_window_whose_spine_is_never_seen_is_left_as_it_is():
    window = load_clip().positions_m[:WINDOW][None] @ pitch(40).T
    batch = batch_of(window, 1 / 30)
    batch.joint_mask[:, :, NECK] = False
    assert np.array_equal(upright_rotations(batch, PELVIS, NECK)[0], np.eye(3))


def errors_mm(predictor: NermoPredictor, degrees: float) -> np.ndarray:
    """Mean error (mm) per horizon of forecasts of the walk seen pitched by ``degrees``."""
    clip = load_clip(cycles=2)
    period_s = float(np.median(np.diff(clip.times_s)))
    steps = np.round(HORIZONS_S / period_s).astype(int)
    ends = np.arange(WINDOW - 1, clip.num_frames - steps[-1] - 1, 4)
    turned = clip.positions_m @ pitch(degrees).T
    windows = np.stack([turned[e - WINDOW + 1:e + 1] for e in ends])
    truth = np.stack([turned[e + steps] for e in ends])  # (B, H, J, 3)
    forecast = predictor.forecast(batch_of(windows, period_s), steps * period_s)
    return 1000 * np.linalg.norm(forecast.positions - truth, axis=-1).mean(axis=(0, 2))


def test_levelled_forecasts_of_a_tilted_walk_are_as_good_as_of_an_upright_one():
    plain = NermoPredictor(backend="torch", num_adapt_steps=1, hold_time_s=0.0)
    level = NermoPredictor(backend="torch", num_adapt_steps=1, hold_time_s=0.0, level_body=True)
    upright = errors_mm(level, 0.0)
    tilted_levelled, tilted_plain = errors_mm(level, 40.0), errors_mm(plain, 40.0)
    assert np.all(tilted_levelled < 1.1 * upright), (tilted_levelled, upright)
    # (the body's travel, the same either way, is most of the 1 s error)
    assert np.all(tilted_plain[:2] > 1.2 * tilted_levelled[:2]), (tilted_plain, tilted_levelled)
    assert tilted_plain[2] > tilted_levelled[2]
    assert np.all(errors_mm(plain, 0.0) > 0.8 * upright)  # upright, levelling costs little


def test_levelled_forecasts_get_only_a_calibration_made_with_levelling():
    level = NermoPredictor(backend="torch", num_adapt_steps=1, level_body=True)
    assert level.calibration is not None and level.calibration.level_body
    assert "levelled" in level.radius_note and level.radius_coverage == pytest.approx(0.9)
    plain = NermoPredictor(backend="torch", num_adapt_steps=1)
    assert plain.calibration is not None and not plain.calibration.level_body
    # the file holds levelled calibrations for the node's 1 step only
    offline = NermoPredictor(backend="torch", num_adapt_steps=3, level_body=True)
    assert offline.calibration is None and offline.radius_coverage == 0.0
    assert "--level-body" in offline.radius_note


def test_level_body_is_refused_for_a_layout_without_a_known_spine():
    with pytest.raises(ValueError, match="level_body needs a layout with a pelvis and a neck"):
        NermoPredictor(MODELS_DIR / "nermo_cmu_protocol25.pt", backend="torch",
                       layout="cmu_protocol25", level_body=True)
    with pytest.raises(ValueError, match="level_body must be true or false"):
        NermoPredictor(backend="torch", level_body="yes")


def test_the_node_parameter_reaches_the_predictor():
    from nermo_ros.forecasting.settings import PARAMS
    from nermo_ros.predictors.factory import make_predictor_from_params

    params = {spec.name: spec.default for spec in PARAMS} | {"level_body": True,
                                                             "backend": "torch"}
    assert make_predictor_from_params(params).spine == (PELVIS, NECK)
    assert make_predictor_from_params(params | {"level_body": False}).spine is None


def test_bag_convert_tilts_every_skeleton_as_a_pitched_camera_reports_it(tmp_path):
    from nermo_ros.bag import io
    from nermo_ros.cli import main

    for degrees in (0, 30):
        assert main(["bag", "convert", "pybullet:humanoid3d_walk.txt", str(tmp_path / str(degrees)),
                     "--tilt-deg", str(degrees)]) == 0
    upright, _ = io.read_skeleton_frames(tmp_path / "0")
    tilted, _ = io.read_skeleton_frames(tmp_path / "30")
    a = np.stack([f.people[0].positions.reshape(-1, 3) for f in upright])
    b = np.stack([f.people[0].positions.reshape(-1, 3) for f in tilted])
    assert np.allclose(b, a @ pitch(30).T, atol=1e-5)  # float32 in the bag
    assert spine_tilt_deg(b[None])[0] == pytest.approx(spine_tilt_deg(a[None])[0] + 30, abs=3)


def test_evaluate_levels_a_method_without_changing_what_rotation_cannot_change():
    """Standing still and constant velocity do not care how the body is turned, so their
    levelled forecasts are their plain ones; the protocol's 25-joint layout is refused."""
    from nermo_ros.evaluation import methods

    clip = load_clip(cycles=2)
    windows = np.stack([clip.positions_m[i:i + WINDOW] - clip.positions_m[i + WINDOW - 1, PELVIS]
                        for i in range(0, 40, 8)]) @ pitch(35).T
    batch = batch_of(windows, 1 / 30)
    for name, method in methods.baseline_methods().items():
        np.testing.assert_allclose(methods.levelled(method, "nermo_body17")(batch),
                                   method(batch), atol=1e-6, err_msg=name)  # float32
    with pytest.raises(ValueError, match="level_body needs a layout with a pelvis"):
        methods.levelled(methods.baseline_methods()["zero_velocity"], "cmu_protocol25")
