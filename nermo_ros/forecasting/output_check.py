"""The last gate before a forecast leaves: finite, and no faster than a person can move.

A forecast that fails is withheld (never published) and counted with its reason; the
predictor's state for that person is dropped, so a diverged fit does not seed the next frame.
"""

from __future__ import annotations

import numpy as np

from nermo_ros.predictors.base import ForecastBatch, WindowBatch
from nermo_ros.tracking.tracker import JUMP_SLACK_M
from nermo_ros.tracking.validation import Reason


def forecast_problems(forecast: ForecastBatch, batch: WindowBatch, horizons_s: np.ndarray,
                      max_joint_speed_mps: float) -> list[tuple[str, str]]:
    """Per person, ("", "") when the forecast may be published, else (reason, detail).

    Joints seen in the newest frame may move at most ``max_joint_speed_mps`` times the
    horizon (plus the tracker's jitter slack) from where they were last seen.
    """
    positions, sigma = forecast.positions, forecast.uncertainty_m
    finite = (np.isfinite(positions).all(axis=(1, 2, 3)) & np.isfinite(sigma).all(axis=(1, 2))
              & (sigma >= 0).all(axis=(1, 2)))
    newest, seen = batch.positions[:, -1], batch.joint_mask[:, -1]  # (B, J, 3), (B, J)
    with np.errstate(invalid="ignore", over="ignore"):
        moved_m = np.linalg.norm(positions - newest[:, None], axis=-1)  # (B, H, J)
    allowed_m = max_joint_speed_mps * horizons_s[None, :, None] + JUMP_SLACK_M
    too_fast = ((moved_m > allowed_m) & seen[:, None, :]).any(axis=(1, 2))
    problems = []
    for row in range(len(finite)):
        if not finite[row]:
            problems.append((Reason.FORECAST_NON_FINITE,
                             f"the forecast of track {batch.track_ids[row]!r} has NaN/inf "
                             f"positions or uncertainty; withheld"))
        elif too_fast[row]:
            speed = float(np.nanmax(moved_m[row] / horizons_s[:, None]))
            problems.append((Reason.FORECAST_IMPLAUSIBLE,
                             f"the forecast of track {batch.track_ids[row]!r} moves a joint at "
                             f"{speed:.3g} m/s, more than max_joint_speed_mps="
                             f"{max_joint_speed_mps}; withheld"))
        else:
            problems.append(("", ""))
    return problems
