"""Stand each window's body upright before the model reads it, and turn the forecast back.

The models learned from mocap whose vertical is gravity's, with people leaning at most about
25 degrees. A camera tilted down at a person reports that person tilted by the camera's angle
(30-44 degrees, median, on the packaged lab videos), and the forecast error grows fast with
it: pitched by 30 degrees, 1.1-3.5 times the error at 80 ms (BENCHMARKS.md). So the window
is turned, about its origin, by the smallest rotation that takes its mean spine (pelvis to
neck, over the frames that see both) to vertical, and the forecast by the inverse. The
forecast then no longer depends on the tilt at all; the price is the person's own lean, which
the model no longer sees: up to 10 % more error on an upright person (BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np

from nermo_ros.predictors.base import WindowBatch
from nermo_ros.skeleton import JOINT_INDEX, LAYOUT_ID

# Off: upright people lose up to 10 %, the outdoor video's 1 s horizon too ("A tilted view")
DEFAULT_LEVEL_BODY = False
MIN_SPINE_M = 0.05  # a mean spine shorter than this (hardly seen) leaves the window as it is
# (pelvis, neck) joint indices of the layouts that can be levelled
SPINE_JOINTS = {LAYOUT_ID: (JOINT_INDEX["pelvis"], JOINT_INDEX["neck"])}


def spine_of(layout: str) -> tuple[int, int]:
    """(pelvis, neck) joint indices of ``layout``; ValueError for a layout without them."""
    if layout not in SPINE_JOINTS:
        raise ValueError(f"level_body needs a layout with a pelvis and a neck "
                         f"({sorted(SPINE_JOINTS)}), not {layout}")
    return SPINE_JOINTS[layout]


def upright_rotations(batch: WindowBatch, pelvis: int, neck: int) -> np.ndarray:
    """(B, 3, 3): per person the smallest rotation taking the mean spine to +z (identity
    where the spine is never seen)."""
    seen = (np.asarray(batch.joint_mask, bool) & np.asarray(batch.frame_valid, bool)[..., None])
    both = seen[:, :, pelvis] & seen[:, :, neck]  # (B, T)
    spine = np.where(both[..., None], batch.positions[:, :, neck] - batch.positions[:, :, pelvis],
                     0.0)
    mean = spine.sum(axis=1) / np.maximum(both.sum(axis=1), 1)[:, None]  # (B, 3)
    turn = turns_to_up(mean)
    turn[np.linalg.norm(mean, axis=-1) < MIN_SPINE_M] = np.eye(3)
    return turn


def turns_to_up(directions: np.ndarray) -> np.ndarray:
    """(B, 3, 3): the smallest rotation taking each (B, 3) direction to +z (Rodrigues);
    identity for a zero direction."""
    length = np.linalg.norm(directions, axis=-1)
    unit = directions / np.maximum(length, 1e-12)[:, None]
    axis = np.cross(unit, [0.0, 0.0, 1.0])  # (B, 3), |axis| = sin(angle)
    sin = np.linalg.norm(axis, axis=-1)
    cos = unit[:, 2]
    k = axis / np.maximum(sin, 1e-12)[:, None]
    cross = np.zeros((len(k), 3, 3))
    cross[:, 0, 1], cross[:, 0, 2], cross[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    cross -= cross.transpose(0, 2, 1)
    turn = (np.eye(3) + sin[:, None, None] * cross
            + (1.0 - cos)[:, None, None] * cross @ cross)
    upside_down = (sin < 1e-9) & (cos < 0)  # straight down: half a turn about x
    turn[upside_down] = np.diag([1.0, -1.0, -1.0])
    turn[(length < 1e-12) | ((sin < 1e-9) & (cos > 0))] = np.eye(3)
    return turn


def rotate(positions: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """(B, ..., 3) positions turned by each person's (B, 3, 3) rotation about the origin."""
    flat = positions.reshape(len(positions), -1, 3)
    return np.einsum("bij,bnj->bni", turn, flat).reshape(positions.shape)
