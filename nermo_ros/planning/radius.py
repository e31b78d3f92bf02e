"""How far around each predicted joint a planner should stay clear.

Forecasts carry ``radius_m``: per horizon and joint, the distance within which the person's
joint will be for the share ``coverage`` of forecasts, calibrated on data the model never
trained on (``forecasting/calibration.py``). That is the keep-out radius. A forecast without
one (a recording made before forecasts carried it) gets the radius an isotropic Gaussian error
of its per-axis sigma would need for ``FALLBACK_COVERAGE`` (2.50 sigma at 0.9), which nothing
calibrated. Everything that turns a forecast into a keep-out distance calls
``keep_out_radius_m``, so the rule lives in one place.
"""

from __future__ import annotations

import numpy as np

from nermo_ros.forecasting.calibration import gaussian_radius_factor
from nermo_ros.predictors.base import DEFAULT_COVERAGE

FALLBACK_COVERAGE = DEFAULT_COVERAGE


def keep_out_radius_m(uncertainty_m: np.ndarray, radius_m: np.ndarray | None = None
                      ) -> np.ndarray:
    """(..., H, J) the forecast's radius when it has one, else the Gaussian reading of its
    per-axis 1-sigma ``uncertainty_m``; metres, same shape."""
    if radius_m is not None and np.size(radius_m):
        return np.asarray(radius_m, dtype=np.float64)
    factor = gaussian_radius_factor(FALLBACK_COVERAGE)
    return factor * np.asarray(uncertainty_m, dtype=np.float64)
