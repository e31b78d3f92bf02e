"""Whole-body travel and body pose, forecast apart.

The NeRMo models are trained on root-relative mocap (the root's own path is not usable in
the CMU files), so they know how limbs move around the pelvis, not how a person travels
through a room. The predictor therefore forecasts the pose relative to the root joint with
NeRMo and the root's path with constant velocity, and adds the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.predictors.base import WindowBatch


@dataclass(frozen=True)
class RootSplit:
    local: WindowBatch  # every frame relative to that frame's root position
    root: WindowBatch  # the root joint alone, (B, T, 1, 3)
    has_root: np.ndarray  # (B,) False: root never seen; that person stays whole in ``local``


def split_root(batch: WindowBatch, root: int) -> RootSplit:
    """Frames whose root is hidden cannot be made root-relative, so they leave the local
    window; a person whose root is never seen keeps the window as it was."""
    valid = np.asarray(batch.frame_valid, dtype=bool)
    joint_mask = np.asarray(batch.joint_mask, dtype=bool)
    root_seen = joint_mask[:, :, root] & valid  # (B, T)
    has_root = root_seen.any(axis=1)
    root_m = batch.positions[:, :, root:root + 1]  # (B, T, 1, 3)
    mask = joint_mask & root_seen[..., None]
    relative = np.where(mask[..., None], batch.positions - root_m, 0.0)
    keep = has_root[:, None, None]
    local = WindowBatch(
        times_s=batch.times_s,
        positions=np.where(keep[..., None], relative, batch.positions),
        joint_mask=np.where(keep, mask, joint_mask),
        frame_valid=np.where(has_root[:, None], root_seen, valid),
        track_ids=batch.track_ids)
    root_only = WindowBatch(times_s=batch.times_s, positions=np.where(root_seen[..., None, None], root_m, 0.0),
                            joint_mask=root_seen[..., None], frame_valid=root_seen,
                            track_ids=batch.track_ids)
    return RootSplit(local, root_only, has_root)
