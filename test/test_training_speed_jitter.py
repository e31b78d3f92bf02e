"""A speed jitter per action (window.speed_jitter_actions): the named actions' windows play
within their own speed range, the others within speed_jitter, and a config without it draws
the same batches as before it existed."""

import os
from pathlib import Path

import pytest
import torch

from moving_windows import CLEAN, MODEL, future_velocity, measured_draws
from moving_windows import moving_bank as moving_at
from nermo_ros.training.config import WindowConfig, config_from_dict
from nermo_ros.training.windows import sample_batch, sample_camera_batch

REPO = Path(__file__).resolve().parents[1]
CMU_DIR = Path(os.environ.get("NERMO_CMU_DIR", REPO.parent / "shared/data/cmu_mocap"))
SPEED_MPS = 1.0


def moving_bank(spec: WindowConfig, jitter=None, frames: int = 600):
    return moving_at(spec, SPEED_MPS, frames, speed_jitter=jitter)


def playback_speed(batch) -> torch.Tensor:
    """(B,) each window's playback speed: its future velocity over the recorded one."""
    return future_velocity(batch) / SPEED_MPS


def test_each_actions_windows_play_within_its_own_speed_range():
    spec = WindowConfig(speed_jitter=0.1, speed_jitter_actions={"jumping": 0.4}, **CLEAN)
    frames = 600
    jumping = torch.arange(frames) < frames // 2  # the first trial is the jumping one
    bank = moving_bank(spec, torch.where(jumping, 0.4, 0.1), frames)
    start, speed = measured_draws(bank, spec, playback_speed, seed=0)
    named, rest = speed[jumping[start]], speed[~jumping[start]]
    assert rest.min() >= 0.9 - 1e-4 and rest.max() <= 1.1 + 1e-4
    assert named.min() >= 0.6 - 1e-4 and named.max() <= 1.4 + 1e-4
    assert named.min() < 0.7 and named.max() > 1.3  # the wider range is used


def test_the_window_span_covers_the_fastest_action():
    base = WindowConfig(speed_jitter=0.1)
    wide = WindowConfig(speed_jitter=0.1, speed_jitter_actions={"basketball": 0.3})
    assert wide.max_speed_jitter == 0.3 and wide.span_raw > base.span_raw


def test_without_per_action_jitter_the_batches_are_the_same_as_before():
    spec = WindowConfig(speed_jitter=0.1, **CLEAN)
    bank = moving_bank(spec)
    one = sample_batch(bank, spec, MODEL, 64, torch.Generator().manual_seed(3))
    # the same draw through a bank that gives every frame the config's own jitter
    two = sample_batch(moving_bank(spec, torch.full((600,), 0.1)), spec, MODEL, 64,
                       torch.Generator().manual_seed(3))
    assert torch.equal(one.fut_x, two.fut_x) and torch.equal(one.obs_x, two.obs_x)


def test_camera_like_windows_take_the_per_action_jitter_too():
    spec = WindowConfig(speed_jitter_actions={"soccer": 0.3}, frame_rates_hz=(10.0, 30.0),
                        **CLEAN)
    bank = moving_bank(spec, torch.full((600,), 0.3))
    speed = playback_speed(sample_camera_batch(bank, spec, MODEL, 256,
                                               torch.Generator().manual_seed(4)))
    assert speed.min() >= 0.7 - 1e-4 and speed.max() <= 1.3 + 1e-4 and speed.std() > 0.1


def test_the_yaml_maps_actions_to_amounts_and_bad_values_or_banks_are_refused():
    window = config_from_dict({"window": {"speed_jitter": 0.1,
                                          "speed_jitter_actions": {"soccer": 0.25}}}).window
    assert window.speed_jitter_actions == {"soccer": 0.25}
    with pytest.raises(ValueError, match="speed_jitter_actions maps"):
        WindowConfig(speed_jitter_actions={"soccer": 1.5})
    with pytest.raises(ValueError, match="speed_jitter_actions maps"):
        WindowConfig(speed_jitter_actions=["soccer"])
    spec = WindowConfig(speed_jitter_actions={"soccer": 0.3}, **CLEAN)
    with pytest.raises(ValueError, match="bank built with them"):
        sample_batch(moving_bank(spec), spec, MODEL, 8, torch.Generator().manual_seed(5))


@pytest.mark.shared_data
@pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")
def test_the_bank_gives_each_frame_its_actions_jitter_and_names_an_unknown_action():
    from nermo_ros.data import cmu
    from nermo_ros.training.windows import build_bank

    skeleton_cmu = cmu.load_skeleton(cmu.find_skeleton_json(CMU_DIR))
    files = [sorted((CMU_DIR / "train" / action).glob("*.txt*"))[0]
             for action in ("jumping", "soccer")]
    bank = build_bank(files, skeleton_cmu, "cmu_protocol25", 100, speed_jitter=0.1,
                      speed_jitter_actions={"soccer": 0.3})
    assert torch.unique(bank.speed_jitter).tolist() == pytest.approx([0.1, 0.3])
    with pytest.raises(ValueError, match="speed_jitter_actions.*washwindow"):
        build_bank(files, skeleton_cmu, "cmu_protocol25", 100,
                   speed_jitter_actions={"washwindow": 0.3})
