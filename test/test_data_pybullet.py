"""The pybullet mocap clips as canonical skeletons: rigid, upright, left on the left, walking."""

from __future__ import annotations

import numpy as np
import pytest

from nermo_ros.data import pybullet_clips as pc
from nermo_ros.skeleton import BONES, JOINT_INDEX

J = JOINT_INDEX


@pytest.fixture(scope="module")
def walk():
    return pc.load_clip(pc.DEFAULT_CLIP, cycles=3)


def test_every_humanoid_clip_in_the_wheel_loads_with_increasing_times():
    names = pc.list_clips()
    assert pc.DEFAULT_CLIP in names and len(names) >= 10
    for name in names:
        clip = pc.load_clip(name)
        assert clip.num_frames > 10 and np.all(np.diff(clip.times_s) > 0)
        assert np.isfinite(clip.positions_m).all()


def test_timestamps_are_the_sums_of_the_frame_durations():
    frames, _ = pc.read_frames(pc.motions_dir() / pc.DEFAULT_CLIP)
    clip = pc.load_clip()
    assert clip.times_s[0] == 0.0
    assert clip.duration_s == pytest.approx(frames[:-1, 0].sum())


def test_bones_keep_their_length_in_every_frame(walk):
    for parent, child in BONES:
        if parent == J["pelvis"] and child == J["neck"]:
            continue  # the spine bends at the chest joint
        length = np.linalg.norm(walk.positions_m[:, child] - walk.positions_m[:, parent], axis=-1)
        assert length.std() < 1e-9, (parent, child)


def test_the_walker_is_upright(walk):
    z = walk.positions_m[..., 2]
    assert np.all(z[:, J["head"]] > z[:, J["neck"]])
    assert np.all(z[:, J["neck"]] > z[:, J["pelvis"]])
    for side in ("left", "right"):
        assert np.all(z[:, J["pelvis"]] > z[:, J[f"{side}_knee"]])
        assert np.all(z[:, J[f"{side}_knee"]] > z[:, J[f"{side}_ankle"]])
    assert -0.05 < z[:, J["left_toe"]].min() < 0.1  # the feet reach the ground


def test_left_joints_are_on_the_persons_left(walk):
    p = walk.positions_m
    forward = (p[:, J["left_toe"]] - p[:, J["left_ankle"]]
               + p[:, J["right_toe"]] - p[:, J["right_ankle"]])
    up = p[:, J["neck"]] - p[:, J["pelvis"]]
    for left, right in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")):
        leftward = p[:, J[left]] - p[:, J[right]]
        # REP-103 is right-handed: forward x left = up; a mirrored body gives the opposite sign
        assert np.all(np.einsum("ti,ti->t", np.cross(forward, leftward), up) > 0)


def test_the_walk_goes_forward_at_walking_speed_without_jumps_between_cycles(walk):
    pelvis = walk.positions_m[:, J["pelvis"]]
    travel = pelvis[-1] - pelvis[0]
    speed_m_s = np.linalg.norm(travel[:2]) / walk.duration_s
    assert 0.5 < speed_m_s < 2.0
    assert travel[0] > 0.9 * np.linalg.norm(travel[:2])  # mostly along +x (forward)
    step_speed = np.linalg.norm(np.diff(pelvis, axis=0), axis=1) / np.diff(walk.times_s)
    assert step_speed.max() < 2.0 * speed_m_s


def test_axis_change_is_a_proper_rotation():
    assert np.linalg.det(pc.Y_UP_TO_BODY_AXES) == pytest.approx(1.0)
    np.testing.assert_allclose(pc.Y_UP_TO_BODY_AXES @ [0, 1, 0], [0, 0, 1])  # y up -> z up


def test_scale_matches_the_deepmimic_environment_in_the_wheel():
    source = (pc.data_dir().parent / "pybullet_envs" / "deep_mimic" / "env"
              / "humanoid_stable_pd.py")
    if not source.is_file():
        pytest.skip(f"{source} not installed")
    assert f"globalScaling={pc.HUMANOID_SCALE}" in source.read_text()


def test_unknown_clip_names_the_available_ones():
    with pytest.raises(FileNotFoundError, match="humanoid3d_walk.txt"):
        pc.load_clip("humanoid3d_moonwalk.txt")


def test_a_clip_that_does_not_loop_cannot_be_repeated():
    with pytest.raises(ValueError, match="does not loop"):
        pc.load_clip("humanoid3d_kick.txt", cycles=2)
