"""How much a forecast reshapes the body it was given (evaluation.bone_noise.bone_length_change),
and the real-video report that carries it."""

import numpy as np
import pytest

from nermo_ros import skeleton
from nermo_ros.evaluation.bone_noise import bone_length_change

J = skeleton.NUM_JOINTS
FOREARM = skeleton.BONES.index((skeleton.JOINT_NAMES.index("right_elbow"),
                                skeleton.JOINT_NAMES.index("right_wrist")))


def a_pose(seed: int = 0) -> np.ndarray:
    """A body whose joints sit at random offsets from their parents."""
    rng = np.random.default_rng(seed)
    pose = np.zeros((J, 3))
    for parent, child in skeleton.BONES:
        pose[child] = pose[parent] + rng.normal(0.0, 0.2, 3)
    return pose


def test_moving_a_body_keeps_its_bones_and_stretching_one_shows_on_that_bone_alone():
    pose = a_pose()
    seen = np.ones((2, J), bool)
    moved = pose + np.array([0.5, -0.2, 0.1])
    wrist = skeleton.JOINT_NAMES.index("right_wrist")
    elbow = skeleton.JOINT_NAMES.index("right_elbow")
    stretched = pose.copy()
    stretched[wrist] = pose[elbow] + 2.0 * (pose[wrist] - pose[elbow])
    change = bone_length_change(np.stack([pose, pose]), seen, np.stack([moved, stretched]),
                                skeleton.BONES)
    np.testing.assert_allclose(change[0], 0.0, atol=1e-12)
    assert change[1, FOREARM] == pytest.approx(1.0)
    np.testing.assert_allclose(np.delete(change[1], FOREARM), 0.0, atol=1e-12)


def test_a_bone_with_an_unseen_end_is_not_scored():
    pose = a_pose(1)
    seen = np.ones((1, J), bool)
    seen[0, skeleton.JOINT_NAMES.index("right_wrist")] = False
    change = bone_length_change(pose[None], seen, pose[None] * 3.0, skeleton.BONES)
    assert np.isnan(change[0, FOREARM])
    np.testing.assert_allclose(np.delete(change[0], FOREARM), 2.0)


@pytest.mark.slow
def test_on_real_video_standing_still_keeps_every_bone_and_the_report_says_so():
    from nermo_ros.perception.benchmark import forecast_report, perceive_video
    from perception_media import packaged_video_or_skip

    path = packaged_video_or_skip("single")
    report = forecast_report(perceive_video(path, max_frames=30),
                             ("zero_velocity", "constant_velocity"))
    assert report["zero_velocity"]["bone_change_pct_first_horizon"] == 0.0
    assert report["constant_velocity"]["bone_change_pct_first_horizon"] > 0.0
