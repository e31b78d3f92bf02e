"""Place a hip-centred skeleton metrically in the camera frame with a depth image.

MediaPipe's world landmarks have the right shape and scale but sit at the hips' midpoint; a
registered depth image tells where that midpoint is. We read the depth around an anchor joint's
pixel (the pelvis, else the neck when the hips are out of view), back-project it with the
intrinsics and move the whole skeleton there. Depth sees the body's surface, so the anchor is
pushed ``surface_to_centre_m`` further along the optical axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros import skeleton
from nermo_ros.perception.pose import BodyObservation

ANCHOR_JOINTS = ("pelvis", "neck")


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of the depth image (sensor_msgs/CameraInfo's K, in pixels)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_k(cls, k, width: int, height: int) -> "CameraIntrinsics":
        """From a row-major 3x3 K (CameraInfo.k) and the image size."""
        k = np.asarray(k, dtype=np.float64).reshape(-1)
        if k.size != 9 or k[0] <= 0 or k[4] <= 0 or width <= 0 or height <= 0:
            raise ValueError(f"camera_info has no usable intrinsics (K={k.tolist()}, "
                             f"size {width}x{height}); calibrate the camera or fix its driver")
        return cls(fx=float(k[0]), fy=float(k[4]), cx=float(k[2]), cy=float(k[5]),
                   width=int(width), height=int(height))


@dataclass(frozen=True)
class DepthConfig:
    """How depth is read: a median over a small window, inside a plausible range."""

    window_radius_px: int = 4
    min_depth_m: float = 0.2
    max_depth_m: float = 10.0
    surface_to_centre_m: float = 0.1


def back_project(u_px: float, v_px: float, depth_m: float, k: CameraIntrinsics) -> np.ndarray:
    """Pixel + depth (along the optical axis) -> (3,) point in optical axes, metres."""
    return np.array([(u_px - k.cx) * depth_m / k.fx, (v_px - k.cy) * depth_m / k.fy, depth_m])


def depth_around(depth_m: np.ndarray, u_px: float, v_px: float,
                 config: DepthConfig) -> float | None:
    """Median valid depth in a window around a pixel, or None if there is none."""
    height, width = depth_m.shape
    col, row = int(np.floor(u_px)), int(np.floor(v_px))
    if not (0 <= col < width and 0 <= row < height):
        return None
    r = config.window_radius_px
    patch = depth_m[max(row - r, 0):row + r + 1, max(col - r, 0):col + r + 1]
    in_range = (patch >= config.min_depth_m) & (patch <= config.max_depth_m)
    valid = patch[np.isfinite(patch) & in_range]
    return float(np.median(valid)) if valid.size else None


def place_with_depth(observation: BodyObservation, depth_m: np.ndarray, k: CameraIntrinsics,
                     config: DepthConfig = DepthConfig()) -> np.ndarray | None:
    """(J, 3) positions in the camera's REP-103 body frame, or None without a usable anchor.

    The depth image must be registered to the colour image (same field of view), so the
    normalised image coordinates of a joint are valid in it.
    """
    if depth_m.shape != (k.height, k.width):
        raise ValueError(f"depth image is {depth_m.shape[1]}x{depth_m.shape[0]} but its "
                         f"camera_info says {k.width}x{k.height}; publish matching pairs")
    for name in ANCHOR_JOINTS:
        joint = skeleton.JOINT_INDEX[name]
        if observation.confidence[joint] <= 0.0:
            continue
        u_px = float(observation.image_xy[joint, 0]) * k.width
        v_px = float(observation.image_xy[joint, 1]) * k.height
        surface_m = depth_around(depth_m, u_px, v_px, config)
        if surface_m is None:
            continue
        anchor_optical = back_project(u_px, v_px, surface_m + config.surface_to_centre_m, k)
        anchor_body = skeleton.optical_to_body_frame(anchor_optical)
        offset = anchor_body - observation.positions_m[joint]
        return (observation.positions_m + offset).astype(np.float32)
    return None
