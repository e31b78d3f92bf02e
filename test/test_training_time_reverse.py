"""Windows played backwards (window.time_reverse_share / time_reverse_actions): the same frames
from the last to the first, only for the actions named, in the share given."""

import os
from pathlib import Path

import pytest
import torch

from moving_windows import CLEAN, MODEL, future_velocity, measured_draws
from moving_windows import moving_bank as moving_at
from nermo_ros.training.config import WindowConfig, config_from_dict
from nermo_ros.training.windows import sample_batch

REPO = Path(__file__).resolve().parents[1]
CMU_DIR = Path(os.environ.get("NERMO_CMU_DIR", REPO.parent / "shared/data/cmu_mocap"))
SPEED_MPS = 1.2


def moving_bank(spec: WindowConfig, frames: int = 400, reversible=None):
    return moving_at(spec, SPEED_MPS, frames, reversible=reversible)


def test_a_window_played_backwards_moves_the_other_way_at_the_same_speed():
    spec = WindowConfig(time_reverse_share=1.0, **CLEAN)
    batch = sample_batch(moving_bank(spec), spec, MODEL, 64, torch.Generator().manual_seed(0))
    assert torch.allclose(future_velocity(batch), torch.full((64,), -SPEED_MPS), atol=1e-4)
    # the observed frames run backwards too, and the newest observed frame is still the origin
    assert (torch.diff(batch.obs_x[..., 0].mean(dim=-1), dim=1) < 0).all()
    assert torch.allclose(batch.obs_x[:, -1, 0], torch.zeros(64, 3), atol=1e-5)


def test_only_the_share_of_the_named_actions_windows_is_played_backwards():
    spec = WindowConfig(time_reverse_share=0.5, **CLEAN)
    frames = 400
    reversible = torch.arange(frames) < frames // 2  # the first trial's frames only
    bank = moving_bank(spec, frames, reversible)
    start, backward = measured_draws(bank, spec, lambda batch: future_velocity(batch) < 0, seed=1)
    assert not backward[~reversible[start]].any()
    share = backward[reversible[start]].float().mean().item()
    assert 0.44 < share < 0.56


def test_without_a_share_no_window_runs_backwards():
    spec = WindowConfig(**CLEAN)
    batch = sample_batch(moving_bank(spec), spec, MODEL, 256, torch.Generator().manual_seed(2))
    assert torch.allclose(future_velocity(batch), torch.full((256,), SPEED_MPS), atol=1e-4)


def test_the_yaml_names_actions_and_settings_that_cannot_be_honoured_are_refused():
    window = config_from_dict({"window": {"time_reverse_share": 0.3,
                                          "time_reverse_actions": ["directing_traffic"]}}).window
    assert window.time_reverse_actions == ("directing_traffic",)
    with pytest.raises(ValueError, match="must lie in"):
        WindowConfig(time_reverse_share=1.5)
    with pytest.raises(ValueError, match="time_reverse_share is 0"):
        WindowConfig(time_reverse_actions=("basketball_signal",))
    with pytest.raises(ValueError, match="clean windows"):
        WindowConfig(time_reverse_share=0.5, frame_rates_hz=(10.0, 30.0))


@pytest.mark.shared_data
@pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")
def test_an_action_folder_the_trials_do_not_have_is_named():
    from nermo_ros.data import cmu
    from nermo_ros.training.windows import build_bank

    skeleton_cmu = cmu.load_skeleton(cmu.find_skeleton_json(CMU_DIR))
    files = sorted((CMU_DIR / "train" / "directing_traffic").glob("*.txt*"))
    bank = build_bank(files, skeleton_cmu, "cmu_protocol25", 100,
                      reversible_actions=("directing_traffic",))
    assert bank.reversible.all()
    with pytest.raises(ValueError, match="washwindow"):
        build_bank(files, skeleton_cmu, "cmu_protocol25", 100, reversible_actions=("washwindow",))
