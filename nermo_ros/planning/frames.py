"""REP-155 (ROS4HRI) body ids and frames of one skeleton, as arrays.

A person's body frame ``body_<id>`` sits at the mid-hip point, the middle of the two hip
joints, with z up (the skeletons' frame is REP-103: x forward, y left, z up) and x where the
person faces: square to the line from the right hip to the left one, in the horizontal plane
(to the shoulders' line when a hip is missing). Each joint frame ``<joint>_<id>`` is a child of
the body frame, at the joint, with the body frame's axes: a skeleton of points has no joint
rotations. The predicted frames for a horizon carry a suffix that says so, e.g.
``body_0_forecast_400ms``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from typing import Sequence

import numpy as np

from nermo_ros.skeleton import JOINT_INDEX, JOINT_NAMES

BODY_FRAME_PREFIX = "body_"
_LEFT_HIP, _RIGHT_HIP = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]
_LEFT_SHOULDER, _RIGHT_SHOULDER = JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]
# A hip or shoulder line shorter than this in the horizontal plane gives no facing direction.
MIN_LINE_LENGTH_M = 0.02


def hri_body_id(track_id: str) -> str:
    """The REP-155 body id of a track: the track id itself where it can be a topic name token
    (``/humans/bodies/<id>/...``: letters and digits joined by single underscores, starting
    with a letter). Otherwise each run of other characters becomes one underscore, and an id
    that would not start with a letter gets ``id_`` in front. So the perception node's
    ``body_0`` is body ``body_0`` with the frame ``body_body_0`` (a bare ``0`` cannot name a
    topic)."""
    body_id = re.sub(r"[^A-Za-z0-9]+", "_", track_id)
    return body_id if body_id[:1].isalpha() else f"id_{body_id.lstrip('_')}"


def forecast_suffix(horizon_s: float) -> str:
    """What names a predicted frame: ``_forecast_400ms`` for 0.4 s ahead."""
    return f"_forecast_{round(horizon_s * 1000)}ms"


def body_frame_name(body_id: str, suffix: str = "") -> str:
    return f"{BODY_FRAME_PREFIX}{body_id}{suffix}"


@lru_cache(maxsize=1024)
def joint_frame_names(body_id: str, suffix: str = "") -> tuple[str, ...]:
    """``<joint>_<id><suffix>`` for every joint of the canonical skeleton, in its order."""
    return tuple(f"{name}_{body_id}{suffix}" for name in JOINT_NAMES)


def mid_hip_m(positions_m: np.ndarray) -> np.ndarray:
    """(..., J, 3) skeletons -> (..., 3) middle of the two hips."""
    return 0.5 * (positions_m[..., _LEFT_HIP, :] + positions_m[..., _RIGHT_HIP, :])


def facing_yaw_rad(positions_m: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """(..., J, 3) skeletons -> (...,) yaw of the body's x axis about z, radians.

    The hips' line gives the body's y (left) axis; where a hip is unknown or the line is too
    short, the shoulders' line; where neither serves, yaw 0 (the parent frame's axes).
    """
    known = np.ones(positions_m.shape[:-1], dtype=bool) if known is None else known
    hips = positions_m[..., _LEFT_HIP, :2] - positions_m[..., _RIGHT_HIP, :2]
    shoulders = positions_m[..., _LEFT_SHOULDER, :2] - positions_m[..., _RIGHT_SHOULDER, :2]
    hips_ok = (known[..., _LEFT_HIP] & known[..., _RIGHT_HIP]
               & (np.linalg.norm(hips, axis=-1) >= MIN_LINE_LENGTH_M))
    shoulders_ok = (known[..., _LEFT_SHOULDER] & known[..., _RIGHT_SHOULDER]
                    & (np.linalg.norm(shoulders, axis=-1) >= MIN_LINE_LENGTH_M))
    left = np.where(hips_ok[..., None], hips, shoulders)
    # y = (-sin yaw, cos yaw): the left axis is the forward axis turned a quarter to the left.
    yaw = np.arctan2(-left[..., 0], left[..., 1])
    return np.where(hips_ok | shoulders_ok, yaw, 0.0)


def yaw_quaternion_xyzw(yaw_rad: np.ndarray) -> np.ndarray:
    """(...,) yaw about z -> (..., 4) unit quaternions x, y, z, w."""
    half = 0.5 * np.asarray(yaw_rad, dtype=np.float64)
    zeros = np.zeros_like(half)
    return np.stack([zeros, zeros, np.sin(half), np.cos(half)], axis=-1)


def in_body_axes(offsets_m: np.ndarray, yaw_rad: np.ndarray | float) -> np.ndarray:
    """(..., 3) vectors in the parent frame -> the same vectors in a frame turned by ``yaw_rad``
    (a number, or one per vector)."""
    cos, sin = np.cos(yaw_rad), np.sin(yaw_rad)
    x, y = offsets_m[..., 0], offsets_m[..., 1]
    return np.stack([cos * x + sin * y, -sin * x + cos * y, offsets_m[..., 2]], axis=-1)


@dataclass(frozen=True)
class BodyFrames:
    """One skeleton as frames: the body frame in the parent frame, its known joints in it."""

    body_frame: str
    origin_m: np.ndarray  # (3,) mid-hip, parent frame
    yaw_rad: float  # body x axis about the parent's z
    joint_frames: tuple[str, ...]  # the known joints' frames, skeleton order
    joint_offsets_m: np.ndarray  # (K, 3) those joints in the body frame


def body_frames(body_ids: Sequence[str], positions_m: np.ndarray, known: np.ndarray,
                suffix: str = "") -> list[BodyFrames | None]:
    """The frames of B (B, J, 3) skeletons with (B, J) known joints, computed together; None
    for a skeleton without both hips."""
    if not len(body_ids):
        return []
    positions_m = np.asarray(positions_m, dtype=np.float64)
    origins = mid_hip_m(positions_m)  # (B, 3)
    yaws = facing_yaw_rad(positions_m, known)  # (B,)
    offsets = in_body_axes(positions_m - origins[:, None], yaws[:, None])  # (B, J, 3)
    has_hips = known[:, _LEFT_HIP] & known[:, _RIGHT_HIP]
    return [BodyFrames(body_frame_name(body_id, suffix), origins[b], float(yaws[b]),
                       tuple(compress(joint_frame_names(body_id, suffix), known[b])),
                       offsets[b][known[b]]) if has_hips[b] else None
            for b, body_id in enumerate(body_ids)]
