"""A robot path against forecast people: the smallest gap the forecasts leave, in the plane.

The robot is a disc of ``robot_radius_m`` following timed waypoints in the forecasts' frame
(x, y; z up). At each forecast horizon the robot is where its path puts it at that time, and
the gap to a predicted joint is their distance in the ground plane minus the joint's keep-out
radius and the robot's radius. The clearance of a forecast is the smallest gap over its
horizons and joints; below zero, the robot is predicted to come within a joint's radius.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class RobotPath:
    """times_s: (N,) seconds after the path's start, increasing; xy_m: (N, 2) metres. Between
    waypoints the robot moves straight at constant speed; before the first waypoint's time and
    after the last it stands at that waypoint."""

    times_s: np.ndarray
    xy_m: np.ndarray

    def position_m(self, t_s: np.ndarray) -> np.ndarray:
        """(...,) seconds after the start -> (..., 2) robot positions."""
        return np.stack([np.interp(t_s, self.times_s, self.xy_m[:, axis])
                         for axis in (0, 1)], axis=-1)


def robot_path(waypoints: Sequence[float]) -> RobotPath:
    """A path from flat ``[t_s, x_m, y_m, t_s, x_m, y_m, ...]``; ValueError saying what is
    wrong with the list and how to write it."""
    values = np.asarray(waypoints, dtype=np.float64)
    if values.size < 3 or values.size % 3:
        raise ValueError(f"waypoints must be [t_s, x_m, y_m, ...], three numbers per waypoint "
                         f"and at least one waypoint; got {values.size} numbers")
    rows = values.reshape(-1, 3)
    if not np.isfinite(rows).all() or (np.diff(rows[:, 0]) <= 0).any():
        raise ValueError(f"waypoint times must be finite and increase strictly; got times "
                         f"{rows[:, 0].tolist()} s")
    return RobotPath(rows[:, 0], rows[:, 1:])


def person_clearance_m(path: RobotPath, path_start_ns: int, stamp_ns: int,
                       time_offsets_s: np.ndarray, positions_m: np.ndarray,
                       radius_m: np.ndarray, robot_radius_m: float) -> float:
    """The smallest gap between the robot and one person's (H, J, 3) forecast with (H, J)
    keep-out radii, made at ``stamp_ns`` for ``time_offsets_s`` (H,) later."""
    robot_times_s = (stamp_ns - path_start_ns) * 1e-9 + np.asarray(time_offsets_s, np.float64)
    robot_xy = path.position_m(robot_times_s)  # (H, 2)
    distance = np.linalg.norm(positions_m[..., :2] - robot_xy[:, None, :], axis=-1)  # (H, J)
    return float((distance - radius_m).min() - robot_radius_m)
