"""Each person's forecast as a path: the body frame's pose at every horizon.

Pose k is where ``body_<id>`` is predicted ``horizons_s[k]`` after the frame's stamp, stamped
with that future time: the mid-hip point, turned the way the predicted hips face (see
``frames``), in the skeletons' frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.planning.frames import facing_yaw_rad, mid_hip_m, yaw_quaternion_xyzw


@dataclass(frozen=True)
class ForecastPath:
    stamps_ns: np.ndarray  # (H,) int64, the frame's stamp plus each horizon
    positions_m: np.ndarray  # (H, 3) predicted mid-hip
    orientations_xyzw: np.ndarray  # (H, 4) predicted facing, as quaternions


def horizon_stamps_ns(stamp_ns: int, horizons_s: np.ndarray) -> np.ndarray:
    """(H,) int64: the times the horizons of a frame stamped ``stamp_ns`` are at."""
    return stamp_ns + np.round(np.asarray(horizons_s, dtype=np.float64) * 1e9).astype(np.int64)


def forecast_path(stamp_ns: int, horizons_s: np.ndarray,
                  forecast_positions_m: np.ndarray) -> ForecastPath:
    """One person's (H, J, 3) forecast as poses at ``stamp_ns`` + each horizon."""
    positions = forecast_positions_m.astype(np.float64)
    return ForecastPath(horizon_stamps_ns(stamp_ns, horizons_s), mid_hip_m(positions),
                        yaw_quaternion_xyzw(facing_yaw_rad(positions)))
