"""Amplitude copies of a trial (window.amplitude_copies_actions): gestures grow or shrink by
their factor about the held posture, bones keep their lengths, and an action with copies is
drawn as often as without them."""

import numpy as np
import pytest
import torch

from nermo_ros.data import cmu
from nermo_ros.skeleton import NUM_CMU_JOINTS
from nermo_ros.training.amplitude import FIRST_JOINT_COLUMN, scaled_motion
from nermo_ros.training.config import WindowConfig, config_from_dict
from nermo_ros.training.windows import build_bank
from test_data_cmu import write_trial

PERIOD, PIVOT = 50, 100  # the pivot spans two whole gesture cycles


def gesturing(frames: int = 400, seed: int = 0) -> np.ndarray:
    """(frames, 117): a held random posture with a sine gesture in every joint on top."""
    rng = np.random.default_rng(seed)
    out = np.zeros((frames, cmu.NUM_COLUMNS))
    out[:, :FIRST_JOINT_COLUMN] = rng.normal(0.0, 0.3, FIRST_JOINT_COLUMN)
    posture = rng.normal(0.0, 0.3, cmu.NUM_COLUMNS - FIRST_JOINT_COLUMN)
    swing = rng.normal(0.0, 0.2, cmu.NUM_COLUMNS - FIRST_JOINT_COLUMN)
    phase = np.sin(2 * np.pi * np.arange(frames) / PERIOD)[:, None]
    out[:, FIRST_JOINT_COLUMN:] = posture + swing * phase
    return out


def skeleton(seed: int = 1) -> cmu.CmuSkeleton:
    """A random 38-joint tree (each joint's parent comes before it)."""
    rng = np.random.default_rng(seed)
    parents = np.array([-1] + [int(rng.integers(0, j)) for j in range(1, NUM_CMU_JOINTS)])
    return cmu.CmuSkeleton(parents=parents, offsets=rng.normal(0.0, 1.0, (NUM_CMU_JOINTS, 3)))


def test_the_gesture_grows_by_the_factor_and_the_held_posture_and_root_stay():
    frames = gesturing()
    held = frames[PIVOT:-PIVOT]  # away from the ends, where the moving average is exact
    for factor in (0.7, 1.0, 1.4):
        scaled = scaled_motion(frames, factor, PIVOT)
        root = slice(0, FIRST_JOINT_COLUMN)
        np.testing.assert_array_equal(scaled[:, root], frames[:, root])
        posture = frames[PIVOT:PIVOT + PERIOD, FIRST_JOINT_COLUMN:].mean(axis=0)
        np.testing.assert_allclose(scaled[PIVOT:-PIVOT, FIRST_JOINT_COLUMN:],
                                   posture + factor * (held[:, FIRST_JOINT_COLUMN:] - posture),
                                   atol=1e-9)
    np.testing.assert_allclose(scaled_motion(frames, 1.0, PIVOT), frames, atol=1e-12)


def test_every_bone_keeps_its_length_in_the_copies():
    tree, frames = skeleton(), gesturing()

    def bone_lengths(motion):
        pos = cmu.expmap_to_positions_mm(motion, tree)
        return np.linalg.norm(pos[:, 1:] - pos[:, tree.parents[1:]], axis=-1)

    for factor in (0.5, 1.5):
        moved = scaled_motion(frames, factor, PIVOT)
        assert not np.allclose(cmu.expmap_to_positions_mm(moved, tree),
                               cmu.expmap_to_positions_mm(frames, tree))
        np.testing.assert_allclose(bone_lengths(moved), bone_lengths(frames), rtol=1e-9)


def test_bad_factors_pivots_and_frames_are_refused():
    with pytest.raises(ValueError, match="must be positive"):
        scaled_motion(gesturing(), 0.0, PIVOT)
    with pytest.raises(ValueError, match="at least one frame"):
        scaled_motion(gesturing(), 1.2, 0)
    with pytest.raises(ValueError, match=r"\(T, 117\)"):
        scaled_motion(np.zeros((10, 99)), 1.2, PIVOT)


def test_the_yaml_maps_actions_to_factor_lists_and_bad_values_are_refused():
    window = config_from_dict({"window": {"amplitude_copies_actions":
                                          {"directing_traffic": [0.7, 1.4]}}}).window
    assert window.amplitude_copies_actions == {"directing_traffic": [0.7, 1.4]}
    for bad in ({"directing_traffic": []}, {"directing_traffic": [0.0]},
                {"directing_traffic": 1.4}, ["directing_traffic"]):
        with pytest.raises(ValueError, match="amplitude_copies_actions maps"):
            WindowConfig(amplitude_copies_actions=bad)
    with pytest.raises(ValueError, match="amplitude_pivot_s"):
        WindowConfig(amplitude_pivot_s=0.0)


@pytest.fixture
def two_actions(tmp_path):
    """Trials of two actions, 'signals' (400 frames) and 'walking' (300), as CMU files."""
    files = []
    for action, frames in (("signals", 400), ("walking", 300)):
        (tmp_path / action).mkdir()
        files.append(tmp_path / action / f"{action}_1.txt")
        write_trial(files[-1], gesturing(frames, seed=len(files)))
    return files


def draw_share(bank, action_windows: int) -> float:
    """The share of draws that land on the first ``action_windows`` window starts."""
    odds = torch.ones(len(bank.starts)) if bank.odds is None else bank.odds
    return float(odds[:action_windows].sum() / odds.sum())


@pytest.mark.parametrize("balance", [0.0, 0.5])
def test_an_actions_copies_follow_its_trial_and_share_its_draw_odds(two_actions, balance):
    tree, span = skeleton(), 100
    plain = build_bank(two_actions, tree, "cmu_protocol25", span, action_balance=balance)
    copied = build_bank(two_actions, tree, "cmu_protocol25", span, action_balance=balance,
                        amplitude_copies_actions={"signals": [0.5, 2.0]},
                        amplitude_pivot_raw=PIVOT)
    per_trial = 400 - span + 1
    assert len(copied.starts) == len(plain.starts) + 2 * per_trial
    assert len(copied.positions_m) == len(plain.positions_m) + 2 * 400
    assert draw_share(copied, 3 * per_trial) == pytest.approx(draw_share(plain, per_trial))
    trial, smaller, larger = copied.positions_m[:1200].reshape(3, 400, -1, 3)
    torch.testing.assert_close(trial, plain.positions_m[:400])
    spread = [float((x - x.mean(0)).norm(dim=-1).mean()) for x in (smaller, trial, larger)]
    assert spread[0] < spread[1] < spread[2]
    torch.testing.assert_close(copied.positions_m[1200:], plain.positions_m[400:])


def test_a_misspelt_action_is_named(two_actions):
    with pytest.raises(ValueError, match="amplitude_copies_actions.*traffic"):
        build_bank(two_actions, skeleton(), "cmu_protocol25", 100,
                   amplitude_copies_actions={"traffic": [1.4]})
