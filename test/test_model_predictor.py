"""The NeRMo predictor and its checkpoints: refusing the wrong skeleton, warm starts per
track, honest uncertainty."""

import dataclasses

import numpy as np
import pytest
import torch

from nermo_ros.checkpoint import load_checkpoint, save_checkpoint
from nermo_ros.meta import adapt_and_predict, init_params
from nermo_ros.model import ModelConfig
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.predictors.baselines import ConstantVelocityPredictor
from nermo_ros.predictors.root_motion import split_root
from nermo_ros.predictors.nermo import MEAN_NORM_PER_SIGMA, NermoPredictor
from nermo_ros.skeleton import LAYOUT_ID, NUM_JOINTS

SMALL = dict(width=16, modulation_dim=8, codebook_size=4, num_blocks=1, num_heads=2)
HORIZONS_S = np.arange(1, 26) * 0.04


def _checkpoint(path, layout=LAYOUT_ID, num_joints=NUM_JOINTS, validation=True):
    cfg = ModelConfig(num_joints=num_joints, layout=layout, **SMALL)
    error = np.outer(HORIZONS_S, np.linspace(1.0, 2.0, num_joints)) * 0.1  # grows with horizon
    val = {"horizons_s": HORIZONS_S.tolist(), "mpjpe_joint_m": error.tolist()} if validation else {}
    save_checkpoint(path, kind="nermo", layout=layout, num_joints=num_joints,
                    params=init_params(cfg), train_config={}, model_config=cfg,
                    validation=val, default_steps=2, obs_window_s=0.4)
    return path


def _batch(track_ids, frames=12):
    b = len(track_ids)
    times = np.tile((np.arange(frames) - (frames - 1)) * 0.04, (b, 1))  # 25 Hz, as trained
    pos = np.random.default_rng(0).normal(size=(b, 1, NUM_JOINTS, 3)) + times[..., None, None]
    mask = np.ones((b, frames, NUM_JOINTS), bool)
    mask[:, :, 4] = False  # a toe never seen
    return WindowBatch(times, pos, mask, np.ones((b, frames), bool), list(track_ids))


def test_an_unknown_gpu_precision_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="gpu_precision must be one of tf32, fp32, got 'half'"):
        NermoPredictor(_checkpoint(tmp_path / "m.pt"), gpu_precision="half")


def test_a_checkpoint_for_another_skeleton_is_refused_naming_both(tmp_path):
    path = _checkpoint(tmp_path / "cmu.pt", layout="cmu_protocol25", num_joints=25)
    with pytest.raises(ValueError, match="cmu_protocol25.*nermo_body17"):
        NermoPredictor(path)


def test_a_missing_or_foreign_file_gets_a_clear_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="nermo-ros train"):
        load_checkpoint(tmp_path / "nothing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a nermo_ros.checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_weights_stored_in_16_bits_load_and_forecast_as_their_32_bit_copy(tmp_path):
    payload = torch.load(_checkpoint(tmp_path / "m.pt"), weights_only=False)
    payload["params"] = {k: v.half() for k, v in payload["params"].items()}
    torch.save(payload, tmp_path / "half.pt")
    save_checkpoint(tmp_path / "full.pt", kind="nermo", layout=LAYOUT_ID, num_joints=NUM_JOINTS,
                    params={k: v.float() for k, v in payload["params"].items()},
                    train_config={}, model_config=ModelConfig.from_dict(payload["model_config"]),
                    validation=payload["validation"], default_steps=2, obs_window_s=0.4)
    assert {v.dtype for v in load_checkpoint(tmp_path / "half.pt").params.values()} == {torch.float32}
    half = NermoPredictor(tmp_path / "half.pt").predict(_batch(["a"]), HORIZONS_S[:3])
    full = NermoPredictor(tmp_path / "full.pt").predict(_batch(["a"]), HORIZONS_S[:3])
    np.testing.assert_array_equal(half.positions, full.positions)


def test_a_checkpoint_without_validation_is_refused_for_lack_of_uncertainty(tmp_path):
    with pytest.raises(ValueError, match="validation"):
        NermoPredictor(_checkpoint(tmp_path / "m.pt", validation=False))


class RecordingAdapt:
    """A stand-in adapt step that records z_init and returns z_init + 1."""

    def __init__(self):
        self.z_inits = []

    def __call__(self, obs_t, obs_x, obs_mask, z_init, query_t):
        self.z_inits.append(np.array(z_init))
        b, q, j = obs_x.shape[0], query_t.shape[1], obs_x.shape[2]
        return np.zeros((b, q, j, 3)), z_init + 1.0, np.zeros_like(obs_x)


def test_each_track_warm_starts_from_its_previous_modulation_until_reset(tmp_path):
    adapt = RecordingAdapt()
    predictor = NermoPredictor(_checkpoint(tmp_path / "m.pt"), adapt_fn=adapt,
                               warm_start_blend=0.25)
    z0 = predictor.z0
    predictor.predict(_batch(["a", "b"]), HORIZONS_S[:3])
    predictor.predict(_batch(["b", "c"]), HORIZONS_S[:3])
    assert np.allclose(adapt.z_inits[1][0], z0 + 0.25)  # b: warm, a quarter of its last fit
    assert np.allclose(adapt.z_inits[1][1], z0)  # c: new
    predictor.reset_track("b")
    predictor.predict(_batch(["b"]), HORIZONS_S[:3])
    assert np.allclose(adapt.z_inits[2][0], z0)


def test_a_blend_of_one_carries_the_modulation_over_unchanged(tmp_path):
    adapt = RecordingAdapt()
    predictor = NermoPredictor(_checkpoint(tmp_path / "m.pt"), adapt_fn=adapt,
                               warm_start_blend=1.0)
    predictor.predict(_batch(["a"]), HORIZONS_S[:3])
    predictor.predict(_batch(["a"]), HORIZONS_S[:3])
    assert np.allclose(adapt.z_inits[1][0], predictor.z0 + 1.0)


@pytest.mark.parametrize("node_window_frames", [4, 30])
def test_the_step_always_sees_the_trained_number_of_newest_frames(tmp_path, node_window_frames):
    adapt = RecordingShapes()
    predictor = NermoPredictor(_checkpoint(tmp_path / "m.pt"), adapt_fn=adapt)
    batch = _batch(["a"], frames=node_window_frames)
    predictor.predict(batch, HORIZONS_S[:3])
    obs_t, obs_mask = adapt.calls[0]
    assert obs_t.shape == (1, predictor.history_frames)
    kept = min(node_window_frames, predictor.history_frames)
    # the newest frames are the ones kept, the padding (if any) is masked out
    assert obs_mask[0, -kept:].any(axis=-1).sum() == np.count_nonzero(
        batch.times_s[0, -kept:] >= -predictor.max_age_s)
    assert not obs_mask[0, :-kept].any()


def test_frames_beyond_the_trained_history_do_not_change_the_forecast(tmp_path):
    predictor = NermoPredictor(_checkpoint(tmp_path / "m.pt"), warm_start_blend=0.0)
    long = _batch(["a"], frames=30)
    short = WindowBatch(long.times_s[:, -predictor.history_frames:],
                        long.positions[:, -predictor.history_frames:],
                        long.joint_mask[:, -predictor.history_frames:],
                        long.frame_valid[:, -predictor.history_frames:], ["a"])
    np.testing.assert_allclose(predictor.predict(long, HORIZONS_S[:3]).positions,
                               predictor.predict(short, HORIZONS_S[:3]).positions, atol=1e-6)


class RecordingShapes(RecordingAdapt):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __call__(self, obs_t, obs_x, obs_mask, z_init, query_t):
        self.calls.append((np.array(obs_t), np.array(obs_mask)))
        return super().__call__(obs_t, obs_x, obs_mask, z_init, query_t)


def test_forecast_positions_and_uncertainty_shapes_and_growth(tmp_path):
    predictor = NermoPredictor(_checkpoint(tmp_path / "m.pt"))
    horizons = np.array([0.1, 0.5, 1.0, 2.0])
    forecast = predictor.predict(_batch(["a", "b", "c"]), horizons)
    assert forecast.positions.shape == (3, 4, NUM_JOINTS, 3)
    assert np.isfinite(forecast.positions).all()
    sigma = forecast.uncertainty_m
    assert np.all(np.diff(sigma[:, :, 0], axis=1) > 0)
    assert np.allclose(sigma[:, :, 4], 1.0)  # never seen: the unobserved sigma
    # at 1 s: the stored mean error of joint 0 (0.1 m) as a per-axis sigma, combined with the
    # uncertainty of the root's own travel (forecast apart by constant velocity)
    batch = _batch(["a", "b", "c"])
    travel = ConstantVelocityPredictor().predict(split_root(batch, 0).root, horizons)
    expected = np.hypot(0.1 / MEAN_NORM_PER_SIGMA, travel.uncertainty_m[0, 2, 0])
    assert sigma[0, 2, 0] == pytest.approx(expected, rel=1e-4)
    assert sigma[0, 2, 0] > 0.1 / MEAN_NORM_PER_SIGMA


def test_nobody_in_view_gives_an_empty_forecast(tmp_path):
    predictor = NermoPredictor(_checkpoint(tmp_path / "m.pt"))
    empty = WindowBatch(np.zeros((0, 5)), np.zeros((0, 5, NUM_JOINTS, 3)),
                        np.zeros((0, 5, NUM_JOINTS), bool), np.zeros((0, 5), bool), [])
    assert predictor.predict(empty, HORIZONS_S[:2]).positions.shape == (0, 2, NUM_JOINTS, 3)


def test_the_shipped_default_loads_and_states_its_skeleton():
    predictor = NermoPredictor()
    assert predictor.config.layout == LAYOUT_ID and len(predictor.model_id) == 12
    forecast = predictor.predict(_batch(["a"]), np.array([0.2, 0.6]))
    assert np.isfinite(forecast.positions).all()


def test_a_person_walking_through_the_room_is_forecast_to_keep_walking():
    """The shipped model learned limbs around the pelvis; the walk itself comes from the
    pelvis's own velocity. The same pose carried at 1.2 m/s must be forecast exactly
    1.2 m/s x horizon further than the same pose standing still."""
    predictor = NermoPredictor()
    t = predictor.history_frames
    times = np.linspace(-(t - 1) / 30, 0.0, t)[None]
    rng = np.random.default_rng(3)
    pose = rng.normal(scale=0.05, size=(NUM_JOINTS, 3)) + np.linspace(0, 1.7, NUM_JOINTS)[:, None] * [0, 0, 1]
    sway = 0.03 * np.sin(8 * times[0])[:, None, None] * np.array([1.0, 0.0, 0.0])
    still = np.broadcast_to(pose, (1, t, NUM_JOINTS, 3)) + sway
    velocity = np.array([1.2, 0.0, 0.0])
    walking = still + times[0][None, :, None, None] * velocity
    horizons = np.array([0.2, 0.6, 1.0])
    seen = np.ones((1, t, NUM_JOINTS), bool)

    def forecast(positions, track):
        return predictor.predict(WindowBatch(times, positions, seen, np.ones((1, t), bool), [track]),
                                 horizons).positions[0]

    moved = forecast(walking, "walker") - forecast(still, "stander")
    np.testing.assert_allclose(moved, np.broadcast_to(horizons[:, None, None] * velocity, moved.shape),
                               atol=1e-4)


def _direct_adapt(ckpt, config):
    """The adapt step computed directly by ``adapt_and_predict`` with ``config``."""
    def adapt(obs_t, obs_x, obs_mask, z_init, query_t):
        with torch.no_grad():
            out = adapt_and_predict(ckpt.params, *(torch.from_numpy(np.asarray(a)) for a in (
                obs_t, obs_x, obs_mask, z_init, query_t)), steps=ckpt.default_steps, config=config)
        return tuple(o.numpy() for o in out)
    return adapt


def test_the_predictor_forecasts_plainly_by_default_and_mirror_averages_when_told(tmp_path):
    path = _checkpoint(tmp_path / "m.pt")
    ckpt = load_checkpoint(path)
    batch = _batch(["a", "b"])  # random poses: no left-right symmetry
    mirrored = NermoPredictor(path, mirror_average=True).predict(batch, HORIZONS_S[:3]).positions
    plain = NermoPredictor(path).predict(batch, HORIZONS_S[:3]).positions
    for config, got in ((dataclasses.replace(ckpt.model_config, mirror_average=True), mirrored),
                        (ckpt.model_config, plain)):
        direct = NermoPredictor(path, adapt_fn=_direct_adapt(ckpt, config))
        np.testing.assert_allclose(got, direct.predict(batch, HORIZONS_S[:3]).positions, atol=1e-5)
    assert np.abs(mirrored - plain).max() > 1e-3


def test_a_mirror_average_that_cannot_be_honoured_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="mirror_average must be true or false, got 'yes'"):
        NermoPredictor(_checkpoint(tmp_path / "m.pt"), mirror_average="yes")
