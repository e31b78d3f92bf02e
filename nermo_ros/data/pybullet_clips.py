"""The DeepMimic mocap clips in the pybullet wheel -> canonical skeletons with real timestamps.

A clip (``pybullet_data/data/motions/humanoid3d_*.txt``) is JSON with ``Loop`` and ``Frames``;
a frame is 44 numbers: its duration in seconds, the root position (metres, y up), then the
root and joint rotations of the DeepMimic humanoid in this order: root, chest, neck, right hip,
right knee, right ankle, right shoulder, right elbow, left hip, left knee, left ankle, left
shoulder, left elbow. Spherical joints are quaternions written w, x, y, z; knees and elbows
are one angle about the joint's z axis (the layout pybullet_envs' DeepMimic pose interpolator
reads).

Link offsets come from the humanoid URDF that ships with the clips
(``pybullet_data/humanoid/humanoid.urdf``), read at run time and scaled by
``HUMANOID_SCALE``: the DeepMimic environment of the wheel
(``pybullet_envs/deep_mimic/env/humanoid_stable_pd.py``) loads that URDF with
``globalScaling=0.25``.

Canonical joints the humanoid has no joint for are taken from its collision geometry:
- toe: the front end of the foot box, at the box's centre height and width (the ball of the
  foot rather than the tip of the toes);
- head: the centre of the head sphere (the canonical head is the middle between the ears);
- neck and pelvis: the means of the two shoulder and the two hip joints, as for every source.
The wrists are the humanoid's fixed wrist joints (the centres of its hand spheres).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from nermo_ros.data.clip import Clip
from nermo_ros.skeleton import JOINT_INDEX, NUM_JOINTS

DEFAULT_CLIP = "humanoid3d_walk.txt"
HUMANOID_SCALE = 0.25
FRAME_LENGTH = 44

# World frame of the clips (x forward at the start, y up, z right) -> REP-103 (x fwd, y left,
# z up). Determinant +1: a proper rotation.
Y_UP_TO_BODY_AXES = np.array([[1.0, 0.0, 0.0],
                              [0.0, 0.0, -1.0],
                              [0.0, 1.0, 0.0]])

# (joint name in the URDF, first column in a frame, True for a quaternion / False for an angle)
_FRAME_JOINTS: tuple[tuple[str, int, bool], ...] = (
    ("chest", 8, True), ("neck", 12, True),
    ("right_hip", 16, True), ("right_knee", 20, False), ("right_ankle", 21, True),
    ("right_shoulder", 25, True), ("right_elbow", 29, False),
    ("left_hip", 30, True), ("left_knee", 34, False), ("left_ankle", 35, True),
    ("left_shoulder", 39, True), ("left_elbow", 43, False),
)
# Canonical joints that are humanoid joint origins (same names as the URDF joints).
_JOINT_POINTS = ("left_hip", "left_knee", "left_ankle", "right_hip", "right_knee",
                 "right_ankle", "left_shoulder", "left_elbow", "left_wrist",
                 "right_shoulder", "right_elbow", "right_wrist")


def data_dir() -> Path:
    import pybullet_data  # imported here so that importing this module stays cheap

    return Path(pybullet_data.getDataPath())


def motions_dir() -> Path:
    return data_dir() / "data" / "motions"


def list_clips() -> list[str]:
    """File names of the humanoid clips (the laikago and other robots' clips are left out)."""
    return sorted(p.name for p in motions_dir().glob("humanoid3d_*.txt"))


@dataclass(frozen=True)
class UrdfJoint:
    name: str
    parent: str
    child: str
    origin_m: np.ndarray  # (3,) in the parent link frame, already scaled
    kind: str
    axis: np.ndarray  # (3,) unit axis of a revolute joint


@dataclass(frozen=True)
class Humanoid:
    joints: dict[str, UrdfJoint]  # by child link name
    toe_points_m: dict[str, np.ndarray]  # foot link name -> point in that link frame
    head_point_m: np.ndarray  # in the neck link frame


def _floats(text: str) -> np.ndarray:
    return np.array([float(v) for v in text.split()])


@lru_cache(maxsize=2)
def load_humanoid(urdf_path: str | None = None, scale: float = HUMANOID_SCALE) -> Humanoid:
    """Joints and the toe/head geometry of the DeepMimic humanoid URDF, in metres."""
    path = Path(urdf_path) if urdf_path else data_dir() / "humanoid" / "humanoid.urdf"
    text = path.read_text(errors="replace")
    end = text.find("</robot>")
    if end < 0:
        raise ValueError(f"{path}: no </robot> end tag; is this the DeepMimic humanoid URDF?")
    root = ET.fromstring(text[:end + len("</robot>")])  # the wheel's file has trailing NULs
    joints = {}
    for j in root.iter("joint"):
        origin = j.find("origin")
        axis = j.find("axis")
        joints[j.find("child").get("link")] = UrdfJoint(
            name=j.get("name"), parent=j.find("parent").get("link"),
            child=j.find("child").get("link"),
            origin_m=_floats(origin.get("xyz")) * scale if origin is not None else np.zeros(3),
            kind=j.get("type"),
            axis=_floats(axis.get("xyz")) if axis is not None else np.array([0.0, 0.0, 1.0]))
    links = {link.get("name"): link for link in root.iter("link")}
    toes = {name: _foot_front_m(links[name], scale) for name in ("left_ankle", "right_ankle")}
    head = _collision_origin(links["neck"], "sphere") * scale
    return Humanoid(joints=joints, toe_points_m=toes, head_point_m=head)


def _collision_origin(link: ET.Element, shape: str) -> np.ndarray:
    for col in link.iter("collision"):
        if col.find(f"geometry/{shape}") is not None:
            return _floats(col.find("origin").get("xyz"))
    raise ValueError(f"URDF link {link.get('name')!r} has no {shape} collision geometry")


def _foot_front_m(link: ET.Element, scale: float) -> np.ndarray:
    centre = _collision_origin(link, "box")
    size = next(_floats(c.find("geometry/box").get("size")) for c in link.iter("collision")
                if c.find("geometry/box") is not None)
    return (centre + np.array([size[0] / 2, 0.0, 0.0])) * scale


def quat_wxyz_to_rotmat(q: np.ndarray) -> np.ndarray:
    """(..., 4) w, x, y, z (normalised here) -> (..., 3, 3)."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def axis_angle_to_rotmat(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Unit axis (3,), angles (T,) -> (T, 3, 3)."""
    half = angle[:, None] / 2
    quat = np.concatenate([np.cos(half), np.sin(half) * axis[None, :]], axis=1)
    return quat_wxyz_to_rotmat(quat)


def frames_to_positions_m(frames: np.ndarray, humanoid: Humanoid) -> np.ndarray:
    """(T, 44) DeepMimic frames -> (T, 17, 3) canonical joints, metres, REP-103 axes."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != FRAME_LENGTH:
        raise ValueError(f"expected (T, {FRAME_LENGTH}) DeepMimic humanoid frames, got "
                         f"{frames.shape}; is this a humanoid3d_* clip?")
    local = {}
    for name, col, is_quat in _FRAME_JOINTS:
        joint = humanoid.joints[name]
        local[name] = (quat_wxyz_to_rotmat(frames[:, col:col + 4]) if is_quat
                       else axis_angle_to_rotmat(joint.axis, frames[:, col]))
    rot = {"root": quat_wxyz_to_rotmat(frames[:, 4:8])}
    pos = {"root": frames[:, 1:4]}
    for link, joint in _in_tree_order(humanoid.joints):
        if link == "root":
            continue
        parent_rot = rot[joint.parent]
        pos[link] = pos[joint.parent] + parent_rot @ joint.origin_m
        rot[link] = parent_rot @ local[link] if link in local else parent_rot
    out = np.empty((len(frames), NUM_JOINTS, 3))
    for name in _JOINT_POINTS:
        out[:, JOINT_INDEX[name]] = pos[name]
    for side in ("left", "right"):
        foot = f"{side}_ankle"
        out[:, JOINT_INDEX[f"{side}_toe"]] = pos[foot] + rot[foot] @ humanoid.toe_points_m[foot]
    out[:, JOINT_INDEX["head"]] = pos["neck"] + rot["neck"] @ humanoid.head_point_m
    out[:, JOINT_INDEX["pelvis"]] = (pos["left_hip"] + pos["right_hip"]) / 2
    out[:, JOINT_INDEX["neck"]] = (pos["left_shoulder"] + pos["right_shoulder"]) / 2
    return out @ Y_UP_TO_BODY_AXES.T


def _in_tree_order(joints: dict[str, UrdfJoint]) -> list[tuple[str, UrdfJoint]]:
    """Joints ordered so that a parent link is placed before its children."""
    placed, ordered = {"base"}, []
    pending = dict(joints)
    while pending:
        ready = [link for link, j in pending.items() if j.parent in placed]
        if not ready:
            raise ValueError(f"URDF joints {sorted(pending)} do not hang from the base link")
        for link in ready:
            ordered.append((link, pending.pop(link)))
            placed.add(link)
    return ordered


def read_frames(path: str | Path) -> tuple[np.ndarray, str]:
    """(T, 44) frames and the Loop mode ("wrap" or "none") of one clip file."""
    raw = json.loads(Path(path).read_text())
    frames = np.asarray(raw["Frames"], dtype=np.float64)
    return frames, str(raw.get("Loop", "none"))


def frame_times_s(durations_s: np.ndarray) -> np.ndarray:
    """Start time of every frame: each frame's first number is the time to the next frame."""
    return np.concatenate([[0.0], np.cumsum(durations_s[:-1])])


def repeat_cycles(frames: np.ndarray, cycles: int) -> np.ndarray:
    """A looping clip played ``cycles`` times: the last frame is the next cycle's first pose,
    so each repetition drops it and moves the root on by the cycle's horizontal travel."""
    if cycles <= 1:
        return frames
    travel = frames[-1, 1:4] - frames[0, 1:4]
    travel[1] = 0.0  # y is up: the height does not accumulate
    body = frames[:-1]
    reps = []
    for k in range(cycles):
        rep = body.copy()
        rep[:, 1:4] += k * travel
        reps.append(rep)
    last = frames[-1:].copy()
    last[:, 1:4] += (cycles - 1) * travel
    reps.append(last)
    return np.concatenate(reps)


def load_clip(name: str = DEFAULT_CLIP, cycles: int = 1) -> Clip:
    """One humanoid clip as a canonical Clip; ``cycles`` > 1 repeats a looping ("wrap") clip."""
    if cycles < 1:
        raise ValueError(f"cycles {cycles}: a clip plays at least once (give 1 or more)")
    path = Path(name) if Path(name).is_absolute() else motions_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"no mocap clip {name!r}; choose one of {', '.join(list_clips())}")
    frames, loop = read_frames(path)
    if cycles > 1 and loop != "wrap":
        raise ValueError(f"{path.name} does not loop (Loop = {loop!r}); use cycles=1")
    frames = repeat_cycles(frames, cycles)
    keep = np.concatenate([[True], frames[:-1, 0] > 0])  # a zero duration repeats a time
    frames = frames[keep]
    positions = frames_to_positions_m(frames, load_humanoid())
    return Clip(times_s=frame_times_s(frames[:, 0]), positions_m=positions, name=path.stem)
