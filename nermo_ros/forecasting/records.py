"""One person's forecast as plain arrays: what bags store, the node sends and evaluation scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ForecastRecord:
    """One person's forecast: made from the frame at stamp_ns, for stamp_ns + offsets."""

    track_id: str
    stamp_ns: int
    time_offsets_s: np.ndarray  # (H,)
    positions_m: np.ndarray  # (H, J, 3)
    uncertainty_m: np.ndarray  # (H, J) per-axis 1-sigma
    predictor: str = ""
    model_id: str = ""
    log_ns: int = 0  # when a bag logged it (0: not from a bag)
    radius_m: np.ndarray | None = None  # (H, J) keep-out radius; None: none was given
    coverage: float = 0.0  # share of future positions radius_m holds; 0: not calibrated
