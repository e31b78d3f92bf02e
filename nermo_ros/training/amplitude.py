"""Larger and smaller copies of a trial's motion, for actions whose takes differ in extent.

Directing traffic has two training trials, and within 1.4 s one moves its joints about 1.4
times as far and 1.5 times as fast as the other (root-relative spread and limb travel, 25
joints); playing the smaller one faster did not help the model on the larger (MODEL_CARD.md,
the speed_traffic probe). Scaling the joint rotations about their own slow drift makes every
gesture wider or narrower at the same tempo, and forward kinematics afterwards keeps every
bone its length, so the copies stay bodies of the same skeleton.
"""

from __future__ import annotations

import numpy as np

from nermo_ros.data import cmu

FIRST_JOINT_COLUMN = 6  # root position (0-2) and root rotation (3-5) come first


def scaled_motion(frames: np.ndarray, factor: float, pivot_frames: int) -> np.ndarray:
    """(T, 117) exponential maps -> the same trial with every joint's rotation vector moved
    ``factor`` times as far from its centred ``pivot_frames``-frame moving average.

    The moving average is the posture the person holds while gesturing, so posture changes
    slower than the pivot stay as they were and the gestures on top grow (factor > 1) or shrink
    (factor < 1). The root's position and rotation are left alone (the protocol drops them)."""
    if factor <= 0:
        raise ValueError(f"an amplitude factor must be positive, got {factor}")
    if pivot_frames < 1:
        raise ValueError(f"the pivot must span at least one frame, got {pivot_frames}")
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != cmu.NUM_COLUMNS:
        raise ValueError(f"expected (T, {cmu.NUM_COLUMNS}) exponential maps, got {frames.shape}")
    joints = frames[:, FIRST_JOINT_COLUMN:]
    pivot = centred_mean(joints, pivot_frames)
    out = frames.copy()
    out[:, FIRST_JOINT_COLUMN:] = pivot + factor * (joints - pivot)
    return out


def centred_mean(values: np.ndarray, frames: int) -> np.ndarray:
    """(T, D) -> the mean of the ``frames`` frames centred on each frame (the end frames
    repeated past either end)."""
    before = frames // 2
    padded = np.pad(values, ((before, frames - 1 - before), (0, 0)), mode="edge")
    sums = np.cumsum(np.pad(padded, ((1, 0), (0, 0))), axis=0)
    return (sums[frames:] - sums[:-frames]) / frames
