"""The canonical body skeleton shared by perception, the model, datasets and messages.

Every skeleton source (MediaPipe's 33 landmarks, the CMU mocap 38-joint rig, the pybullet
humanoid clips) is mapped onto these 17 joints by a fixed linear map, so that a model trained
on mocap reads the live camera stream. A canonical joint that is not a source joint (the pelvis,
the neck, the head centre) is the mean of source joints; that way it means the same point in
every source.

Positions are metres in a REP-103 frame (x forward, y left, z up) unless a message's
``frame_id`` says otherwise.
"""

from __future__ import annotations

import numpy as np

LAYOUT_ID = "nermo_body17"

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip", "left_knee", "left_ankle", "left_toe",
    "right_hip", "right_knee", "right_ankle", "right_toe",
    "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

# Kinematic tree for drawing and for bone-length checks; -1 marks the root.
PARENTS: tuple[int, ...] = (
    -1,
    0, 1, 2, 3,
    0, 5, 6, 7,
    0, 9,
    9, 11, 12,
    9, 14, 15,
)
BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

# Each canonical joint as the mean of source joints, per source. Indices are the source's own.
MEDIAPIPE_SOURCES: dict[str, tuple[int, ...]] = {
    "pelvis": (23, 24), "left_hip": (23,), "left_knee": (25,), "left_ankle": (27,),
    "left_toe": (31,), "right_hip": (24,), "right_knee": (26,), "right_ankle": (28,),
    "right_toe": (32,), "neck": (11, 12), "head": (7, 8), "left_shoulder": (11,),
    "left_elbow": (13,), "left_wrist": (15,), "right_shoulder": (12,), "right_elbow": (14,),
    "right_wrist": (16,),
}
NUM_MEDIAPIPE_LANDMARKS = 33

# CMU 38-joint rig (skeleton.json of the CMU data): a joint's position is the end of its bone.
CMU_SOURCES: dict[str, tuple[int, ...]] = {
    "pelvis": (2, 8), "left_hip": (2,), "left_knee": (3,), "left_ankle": (4,), "left_toe": (5,),
    "right_hip": (8,), "right_knee": (9,), "right_ankle": (10,), "right_toe": (11,),
    "neck": (21, 30), "head": (18, 19), "left_shoulder": (21,), "left_elbow": (22,),
    "left_wrist": (23,), "right_shoulder": (30,), "right_elbow": (31,), "right_wrist": (32,),
}
NUM_CMU_JOINTS = 38


def mapping_matrix(sources: dict[str, tuple[int, ...]], num_source_joints: int) -> np.ndarray:
    """(NUM_JOINTS, num_source_joints) averaging matrix: canonical = M @ source."""
    missing = set(JOINT_NAMES) - set(sources)
    if missing:
        raise ValueError(f"mapping lacks canonical joints {sorted(missing)}")
    matrix = np.zeros((NUM_JOINTS, num_source_joints), dtype=np.float64)
    for name, idx in sources.items():
        matrix[JOINT_INDEX[name], list(idx)] = 1.0 / len(idx)
    return matrix


MEDIAPIPE_TO_CANONICAL = mapping_matrix(MEDIAPIPE_SOURCES, NUM_MEDIAPIPE_LANDMARKS)
CMU_TO_CANONICAL = mapping_matrix(CMU_SOURCES, NUM_CMU_JOINTS)


def map_positions(matrix: np.ndarray, source_xyz: np.ndarray) -> np.ndarray:
    """Apply a mapping matrix to (..., S, 3) source positions -> (..., NUM_JOINTS, 3)."""
    return np.einsum("js,...sc->...jc", matrix, source_xyz)


def map_confidence(matrix: np.ndarray, source_conf: np.ndarray) -> np.ndarray:
    """A canonical joint is only as confident as its least confident source joint.

    Taking the minimum (not the mean) keeps a half-seen pelvis from looking reliable.
    """
    used = matrix > 0
    conf = np.where(used, source_conf[..., None, :], np.inf)
    return conf.min(axis=-1)


def optical_to_body_frame(xyz_optical: np.ndarray) -> np.ndarray:
    """Camera optical axes (x right, y down, z forward) -> REP-103 body axes (x fwd, y left, z up)."""
    x, y, z = xyz_optical[..., 0], xyz_optical[..., 1], xyz_optical[..., 2]
    return np.stack([z, -x, -y], axis=-1)
