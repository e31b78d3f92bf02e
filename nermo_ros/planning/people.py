"""Each forecast person as a people_msgs/Person: where, how fast, how well seen.

position: the mid-hip point of the newest observed skeleton (where a hip was not seen, where
    the forecast puts it now: its first predicted mid-hip, moved back by the velocity below).
velocity: the forecast's own mid-hip velocity over its first step, from now to the first
    horizon (from the first to the second horizon where the hips were not seen now), so that
    a social layer that extrapolates the position with it follows the forecast at first.
reliability: the share of the skeleton's joints seen in its newest frame, 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nermo_ros.planning.frames import mid_hip_m
from nermo_ros.skeleton import JOINT_INDEX

_HIPS = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]


@dataclass(frozen=True)
class PersonState:
    track_id: str
    position_m: np.ndarray  # (3,)
    velocity_mps: np.ndarray  # (3,)
    reliability: float


def person_states(track_ids: Sequence[str], newest_positions_m: np.ndarray,
                  newest_known: np.ndarray, forecast_positions_m: np.ndarray,
                  horizons_s: np.ndarray) -> list[PersonState]:
    """newest_*: (B, J, 3) and (B, J) of each person's newest frame; forecast: (B, H, J, 3)."""
    horizons_s = np.asarray(horizons_s, dtype=np.float64)
    now = mid_hip_m(newest_positions_m.astype(np.float64))  # (B, 3)
    seen_now = newest_known[:, _HIPS].all(axis=1)  # (B,)
    ahead = mid_hip_m(forecast_positions_m.astype(np.float64))  # (B, H, 3)
    from_now = (ahead[:, 0] - now) / horizons_s[0]
    if len(horizons_s) > 1:
        between_horizons = (ahead[:, 1] - ahead[:, 0]) / (horizons_s[1] - horizons_s[0])
    else:  # one horizon and no hips now: nothing says how fast
        between_horizons = np.zeros_like(from_now)
    velocity = np.where(seen_now[:, None], from_now, between_horizons)
    position = np.where(seen_now[:, None], now, ahead[:, 0] - velocity * horizons_s[0])
    reliability = newest_known.mean(axis=1)
    return [PersonState(track_id, position[row], velocity[row], float(reliability[row]))
            for row, track_id in enumerate(track_ids)]
