"""What a forecast's difficulty can be read from when it is made: per person and joint, the
features the calibrated radius (``calibration.py``) scales with.

- how well the model fitted the window: the adaptation residual (RMS distance between the
  model's reconstruction and the observed joints), of the whole person and of the joint;
- how fast the joint moves (a line through its sightings of the last 0.1 s) and how fast the
  whole body does;
- how erratically it moves: the RMS distance of its sightings from one straight line through
  the whole window (a joint turning or shaking bends away from it);
- what is missing: the share of the window's frames without the joint, and of the person's
  joints.
Lengths and speeds enter as logarithms (a scale is multiplicative), each with a floor so a
still or perfectly fitted joint stays finite.
"""

from __future__ import annotations

import numpy as np

from nermo_ros.predictors.base import WindowBatch
from nermo_ros.predictors.baselines import BaselineSettings, Sightings, fit_joint_lines

FEATURE_NAMES = ("log_fit_residual_m", "log_joint_fit_residual_m", "log_joint_speed_mps",
                 "log_body_speed_mps", "log_joint_bend_m", "joint_missing_share",
                 "body_missing_share")
RESIDUAL_FLOOR_M = 0.002
SPEED_FLOOR_MPS = 0.05
RECENT = BaselineSettings()  # its velocity_window_s (0.1 s): the joint's current speed
WHOLE_WINDOW = BaselineSettings(velocity_window_s=1e9, noise_floor_m=0.005)


def difficulty_features(window: WindowBatch, fit_residual_m: np.ndarray) -> np.ndarray:
    """(B, J, K) features in FEATURE_NAMES order.

    ``window``: what the model read (root-relative for NeRMo); ``fit_residual_m`` (B, T, J):
    distance of the reconstruction from each observation (ignored where unobserved).
    """
    sightings = Sightings.of(window)  # both line fits read the same sightings
    mask = sightings.mask
    counted = mask.sum(axis=1)  # (B, J) sightings per joint
    squared = np.where(mask, fit_residual_m, 0.0) ** 2
    joint_squared = squared.sum(axis=1)
    joint_residual = np.sqrt(joint_squared / np.maximum(counted, 1))
    body_residual = np.sqrt(joint_squared.sum(axis=1) / np.maximum(counted.sum(axis=1), 1))
    recent = fit_joint_lines(sightings, RECENT)
    speed = np.linalg.norm(recent.velocity_mps, axis=-1)  # (B, J)
    seen = recent.seen
    body_speed = (speed * seen).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
    bend = fit_joint_lines(sightings, WHOLE_WINDOW).noise_m
    frames = np.maximum(np.asarray(window.frame_valid, bool).sum(axis=1), 1)  # (B,)
    joint_missing = 1.0 - counted / frames[:, None]
    body_missing = joint_missing.mean(axis=1)
    j = mask.shape[2]
    per_person = lambda v: np.broadcast_to(v[:, None], (len(v), j))  # noqa: E731
    return np.stack([
        np.log(np.maximum(per_person(body_residual), RESIDUAL_FLOOR_M)),
        np.log(np.maximum(joint_residual, RESIDUAL_FLOOR_M)),
        np.log(np.maximum(speed, SPEED_FLOOR_MPS)),
        np.log(np.maximum(per_person(body_speed), SPEED_FLOOR_MPS)),
        np.log(bend),
        joint_missing,
        per_person(body_missing),
    ], axis=-1)
