"""The canonical skeleton's mappings, with known answers (the windows hold these joints)."""

import numpy as np

from nermo_ros import skeleton as sk


def landmarks_numbered(count: int) -> np.ndarray:
    """Source joint i sits at (i, 10 i, 100 i): every mapped point says where it came from."""
    index = np.arange(count, dtype=float)
    return np.stack([index, 10 * index, 100 * index], axis=-1)


def test_mediapipe_pelvis_is_between_the_hips_and_the_neck_between_the_shoulders():
    canonical = sk.map_positions(sk.MEDIAPIPE_TO_CANONICAL, landmarks_numbered(33))
    np.testing.assert_allclose(canonical[sk.JOINT_INDEX["pelvis"]], [23.5, 235, 2350])
    np.testing.assert_allclose(canonical[sk.JOINT_INDEX["neck"]], [11.5, 115, 1150])
    np.testing.assert_allclose(canonical[sk.JOINT_INDEX["left_wrist"]], [15, 150, 1500])
    np.testing.assert_allclose(canonical[sk.JOINT_INDEX["right_toe"]], [32, 320, 3200])


def test_cmu_joints_map_to_their_bone_ends():
    canonical = sk.map_positions(sk.CMU_TO_CANONICAL, landmarks_numbered(38))
    np.testing.assert_allclose(canonical[sk.JOINT_INDEX["pelvis"]], [5, 50, 500])  # (2 + 8) / 2
    np.testing.assert_allclose(canonical[sk.JOINT_INDEX["right_elbow"]], [31, 310, 3100])


def test_mapping_works_on_batches_of_frames():
    frames = np.stack([landmarks_numbered(33), 2 * landmarks_numbered(33)])
    canonical = sk.map_positions(sk.MEDIAPIPE_TO_CANONICAL, frames)
    assert canonical.shape == (2, sk.NUM_JOINTS, 3)
    np.testing.assert_allclose(canonical[1], 2 * canonical[0])


def test_a_joint_is_only_as_confident_as_its_least_confident_source():
    confidence = np.ones(33)
    confidence[24] = 0.2  # right hip barely seen
    mapped = sk.map_confidence(sk.MEDIAPIPE_TO_CANONICAL, confidence)
    assert mapped[sk.JOINT_INDEX["pelvis"]] == 0.2
    assert mapped[sk.JOINT_INDEX["right_hip"]] == 0.2
    assert mapped[sk.JOINT_INDEX["left_hip"]] == 1.0


def test_camera_optical_axes_turn_into_body_axes():
    # A point 2 m in front of the camera, 0.5 m to its right and 0.3 m below its centre.
    body = sk.optical_to_body_frame(np.array([0.5, 0.3, 2.0]))
    np.testing.assert_allclose(body, [2.0, -0.5, -0.3])  # forward, left, up


def test_the_skeleton_is_one_tree_rooted_at_the_pelvis():
    assert sk.PARENTS[0] == -1 and all(p < c for c, p in enumerate(sk.PARENTS) if p >= 0)
    assert len(sk.BONES) == sk.NUM_JOINTS - 1
    assert sk.MEDIAPIPE_TO_CANONICAL.sum(axis=1).tolist() == [1.0] * sk.NUM_JOINTS
