"""How far around each predicted joint a planner should stay clear.

Until forecasts carry a calibrated per-joint radius with a stated coverage, the radius is twice
the published per-axis 1-sigma. For an isotropic Gaussian error that disc holds about 86 % of
the predicted positions in the ground plane (1 - exp(-2)) and a sphere of it about 74 % in 3D;
how well the sigma itself is calibrated depends on the predictor (see predictors/).
Everything that turns a forecast into a keep-out distance calls ``keep_out_radius_m``, so the
calibrated radius replaces this rule in one place.
"""

from __future__ import annotations

import numpy as np

SIGMAS_PER_RADIUS = 2.0


def keep_out_radius_m(uncertainty_m: np.ndarray) -> np.ndarray:
    """(..., H, J) per-axis 1-sigma in metres -> the radius to keep clear of, same shape."""
    return SIGMAS_PER_RADIUS * np.asarray(uncertainty_m, dtype=np.float64)
