"""Noisy windows, increasingly so (0, 1, 2 times the measured jitter): standing still passes
the jitter on once, constant velocity extrapolates it, and the shipped NeRMo degrades
gracefully: in proportion to the noise, with a gain that stays below constant velocity's
and does not grow with the horizon the way extrapolated jitter does."""

import os
from pathlib import Path

import numpy as np
import pytest

from nermo_ros import skeleton
from nermo_ros.evaluation import benchmark, methods
from nermo_ros.evaluation.noise_response import jitter_response
from nermo_ros.evaluation.perception_noise import PerceptionNoise
from nermo_ros.predictors.baselines import ConstantVelocityPredictor, ZeroVelocityPredictor

CMU_DIR = Path(os.environ.get("NERMO_CMU_DIR",
                              Path(__file__).resolve().parents[1].parent / "shared/data/cmu_mocap"))
BASELINES = {"zero_velocity": methods.velocity_method(ZeroVelocityPredictor()),
             "constant_velocity": methods.velocity_method(ConstantVelocityPredictor())}


def still_people(windows: int = 200) -> benchmark.Samples:
    """Windows of people standing still, joints spread apart."""
    pose = np.random.default_rng(0).normal(0.0, 0.3, (skeleton.NUM_JOINTS, 3))
    return benchmark.Samples.from_windows(np.broadcast_to(pose, (windows, 35) + pose.shape),
                                          ["still"] * windows)


def test_standing_still_passes_the_jitter_on_once_and_constant_velocity_extrapolates_it():
    noise = PerceptionNoise(((0.02, 0.01, 0.01),) * skeleton.NUM_JOINTS, jitter_time_s=0.03)
    response = jitter_response(still_people(), BASELINES, noise, draws=6)
    zero, constant = response["zero_velocity"], response["constant_velocity"]
    assert np.allclose(zero["gain"], 1.0, atol=0.05)
    assert zero["error_mm"][0] == pytest.approx([0.0] * 6, abs=1e-3)  # no noise, no motion
    gain_80ms, gain_1s = constant["gain"][0][0], constant["gain"][0][-1]
    assert gain_1s > 4 * gain_80ms > 4.0
    # twice the jitter, twice the error: both respond in proportion
    for name in BASELINES:
        np.testing.assert_allclose(response[name]["error_mm"][2],
                                   2 * np.array(response[name]["error_mm"][1]), rtol=0.1)


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")
def test_the_shipped_nermo_degrades_gracefully_and_never_extrapolates_jitter_like_velocity():
    from nermo_ros.checkpoint import MODELS_DIR, load_checkpoint
    from nermo_ros.data import cmu
    from nermo_ros.evaluation.perception_noise import load_noise
    from nermo_ros.paths import SOURCE_ROOT

    _, heldout = cmu.heldout_split(cmu.list_trials(CMU_DIR))
    trials = {a: heldout[a] for a in ("walking", "basketball", "directing_traffic")}
    samples = benchmark.load_samples(trials, cmu.load_skeleton(CMU_DIR / "skeleton.json"),
                                     skeleton.LAYOUT_ID)
    ckpt = load_checkpoint(MODELS_DIR / "nermo_body17.pt")
    chosen = {**BASELINES, **methods.checkpoint_methods(ckpt, steps=(ckpt.default_steps,))}
    noise = load_noise(SOURCE_ROOT / "config/perception_noise.yaml")
    response = jitter_response(samples, chosen, noise)
    nermo = response[f"nermo_{ckpt.default_steps}step"]
    constant = response["constant_velocity"]
    error = np.array(nermo["error_mm"])  # (scales, horizons)
    assert np.all(np.diff(error, axis=0) > 0)  # more noise, more error, at every horizon
    gain = np.array(nermo["gain"])  # (1x, 2x) by horizon
    assert np.all(gain < np.array(constant["gain"]))
    assert np.all(gain[:, -1] <= 2.0 * gain[:, 0])  # constant velocity: 8 times
    assert np.all(gain[1] < 1.25 * gain[0])  # twice the jitter: no breakdown (damping more is fine)


def test_a_noise_model_without_jitter_has_no_response_and_says_so():
    with pytest.raises(ValueError, match="no jitter"):
        jitter_response(still_people(10), BASELINES, PerceptionNoise.none())
