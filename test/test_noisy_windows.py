"""Benchmark windows as a camera delivers them: the camera's rate reaches back into the trial,
noise goes into the observed frames only, the future stays clean; `evaluate
--perception-noise` end to end."""

import json
from pathlib import Path

import numpy as np
import pytest

from nermo_ros import skeleton
from nermo_ros.evaluation import benchmark, methods, protocol
from nermo_ros.evaluation.noisy_windows import NoiseSetting, noise_settings, noisy_batch
from nermo_ros.evaluation.perception_noise import PerceptionNoise, save_noise
from nermo_ros.predictors.baselines import ConstantVelocityPredictor, ZeroVelocityPredictor
from cmu_slices import CMU_DIR, tiny_slice

J = skeleton.NUM_JOINTS


def walking_trials(frames: int = 200, speed_mps: float = 1.0) -> benchmark.Samples:
    """Two trials of every joint moving along x at ``speed_mps``, 25 Hz, every window."""
    t = np.arange(frames) * protocol.FRAME_PERIOD_S
    sequence = np.zeros((frames, J, 3))
    sequence[..., 0] = speed_mps * t[:, None]
    sequence[..., 1] = np.arange(J)[None] * 0.05
    sequences = {Path("a_1"): sequence, Path("b_1"): sequence + 5.0}
    return benchmark.cut_samples({"a": [Path("a_1")], "b": [Path("b_1")]}, sequences, "all")


def test_a_noiseless_camera_at_25_hz_sees_exactly_the_protocol_window():
    samples = walking_trials()
    batch = noisy_batch(samples, PerceptionNoise.none(), 25.0, seed=0)
    clean = samples.windows_m()[:, :protocol.INPUT_FRAMES]
    np.testing.assert_allclose(batch.positions, clean, atol=1e-9)
    np.testing.assert_allclose(batch.times_s[0], (np.arange(10) - 9) * 0.04, atol=1e-12)
    assert batch.joint_mask.all() and batch.frame_valid.all()


def test_a_10_hz_camera_looks_back_09_s_and_misses_frames_before_the_trial():
    samples = walking_trials()
    batch = noisy_batch(samples, PerceptionNoise.none(), 10.0, seed=0)
    assert np.allclose(batch.times_s[:, 0], -0.9)
    # the first window's newest frame is frame 9 (0.36 s): only 0, 0.1, 0.2, 0.3 s back exist
    assert batch.frame_valid[0].tolist() == [False] * 6 + [True] * 4
    assert batch.frame_valid[-1].all()  # late in the trial, all history is there
    newest = samples.windows_m()[:, protocol.INPUT_FRAMES - 1]
    np.testing.assert_allclose(batch.positions[:, -1], newest, atol=1e-9)
    # frame 6 of a late window: 0.3 s before its newest, 7.5 frames at 25 Hz, interpolated
    late = len(samples) - 1
    np.testing.assert_allclose(batch.positions[late, 6, :, 0], newest[late, :, 0] - 0.3)


def test_noisy_observations_leave_the_future_and_the_clean_errors_alone():
    samples = walking_trials()
    noise = PerceptionNoise(((0.02, 0.01, 0.01),) * J, jitter_time_s=0.03,
                            joint_drop_share=(0.1,) * J, joint_drop_run_s=0.1,
                            frame_rates_hz=(15.0,), timestamp_jitter_s=0.005)
    chosen = {"zero_velocity": methods.velocity_method(ZeroVelocityPredictor()),
              "constant_velocity": methods.velocity_method(ConstantVelocityPredictor())}
    settings = benchmark.SETTINGS[:1] + noise_settings(noise)
    result = benchmark.evaluate(samples, chosen, settings)
    clean, noisy = result["complete"], result["perception_noise_15hz"]
    assert np.allclose(clean["constant_velocity"]["average"], 0.0, atol=1e-3)
    assert all(n > 1.0 for n in noisy["constant_velocity"]["average"])  # mm, noise hurts
    expected_zero_mm = [1.0 * ms for ms in protocol.EVAL_HORIZONS_MS]
    assert np.allclose(clean["zero_velocity"]["average"], expected_zero_mm, atol=1e-3)


def test_noisy_windows_are_the_same_however_they_are_chunked():
    samples = walking_trials()
    noise = PerceptionNoise(((0.02,) * 3,) * J, frame_rates_hz=(30.0,))
    chosen = {"constant_velocity": methods.velocity_method(ConstantVelocityPredictor())}
    metrics = benchmark.layout_metrics(skeleton.LAYOUT_ID)
    setting = (NoiseSetting("noisy", noise, 30.0, seed=7),)
    whole = benchmark.sample_errors(samples, chosen, metrics, setting, chunk=1000)
    pieces = benchmark.sample_errors(samples, chosen, metrics, setting, chunk=17)
    assert benchmark.tables(whole) == benchmark.tables(pieces)


def test_nermo_sees_only_the_history_the_node_gives_it():
    """A frame older than the checkpoint's window (plus slack) is hidden, as in the node."""
    from nermo_ros.checkpoint import MODELS_DIR, load_checkpoint

    ckpt = load_checkpoint(MODELS_DIR / "nermo_body17.pt")
    nermo = methods.checkpoint_methods(ckpt, steps=(1,))["nermo_1step"]
    samples = walking_trials(frames=60)
    batch = noisy_batch(samples, PerceptionNoise.none(), 5.0, seed=0)  # 10 frames: 1.8 s
    old = batch.times_s < -(ckpt.obs_window_s + 0.03)
    assert old[-1].sum() == 10 - 1 - int((ckpt.obs_window_s + 0.03) * 5.0 + 1e-9)
    scrambled = batch.positions.copy()
    scrambled[old] += 3.0  # what NeRMo must not see
    changed = type(batch)(batch.times_s, scrambled, batch.joint_mask, batch.frame_valid,
                          batch.track_ids)
    np.testing.assert_allclose(nermo(batch), nermo(changed), atol=1e-5)


@pytest.mark.shared_data
@pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")
def test_evaluate_with_a_noiseless_camera_at_25_hz_repeats_the_complete_table(tmp_path):
    from nermo_ros.cli import main

    data = tiny_slice(tmp_path / "data", actions=("walking",))
    noise_file = tmp_path / "noise.yaml"
    save_noise(noise_file, PerceptionNoise.none(frame_rates_hz=(25.0, 10.0)))
    common = ["evaluate", "--data", str(data), "--skeleton", str(CMU_DIR / "skeleton.json"),
              "--steps", "1", "--perception-noise", str(noise_file)]
    assert main(common + ["--out", str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "cmu_protocol25" not in results  # the noise is measured on the canonical skeleton
    assert results["perception_noise"]["file"] == str(noise_file)
    assert "jitter_response" not in results["nermo_body17"]["protocol8"]  # no jitter to scale
    tables = results["nermo_body17"]["protocol8"]["mpjpe_mm"]
    assert list(tables) == ["complete", "perception_noise_25hz", "perception_noise_10hz"]
    for method, rows in tables["complete"].items():
        np.testing.assert_allclose(tables["perception_noise_25hz"][method]["average"],
                                   rows["average"], atol=1e-3)
    assert main(common + ["--layout", "cmu_protocol25", "--out", str(tmp_path / "x")]) == 2


def test_a_camera_faster_than_training_keeps_the_trained_history_span():
    from nermo_ros.predictors.nermo import spaced_frames, trained_frame_period_s

    camera = {"window": {"obs_frames": 10, "frame_rates_hz": [10, 15, 25, 30]}}
    assert trained_frame_period_s(camera) == pytest.approx(1 / 30)
    assert trained_frame_period_s({"window": {"obs_step_raw": 2}}) == pytest.approx(0.04)
    times = (np.arange(30) - 29) / 60.0  # 30 frames of a 60 Hz camera, newest last
    valid = np.ones((1, 30), bool)
    pick = spaced_frames(times[None], valid, 10, 0.75 / 30)
    assert pick[0].tolist() == list(range(11, 30, 2))  # every other frame: 0.3 s, not 0.15 s
    at_30_hz = (np.arange(10) - 9) / 30.0  # as fast as training: every frame, unchanged
    assert spaced_frames(at_30_hz[None], valid[:, :10], 10, 0.75 / 30)[0].tolist() == list(range(10))
    missing = valid[:, :10].copy()
    missing[0, 7] = False  # a missing frame keeps its slot, as in training
    assert spaced_frames(at_30_hz[None], missing, 10, 0.75 / 30)[0].tolist() == list(range(10))
    short = spaced_frames(times[None, -4:], valid[:, :4], 10, 0.75 / 30)[0].tolist()
    assert short == [-1] * 8 + [1, 3]  # fewer frames: padding at the old end
