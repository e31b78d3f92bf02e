"""The predictor interface the predictor node runs behind.

A predictor sees a batch of people, each as a window of observed skeletons with real
timestamps and a mask of missing joints, and returns their positions at future time offsets.
Predictors may keep per-track state (NeRMo warm-starts each person's modulation from the
previous frame), so every call names the tracks and the node tells the predictor when a track
is reset (time jumped backwards) or forgotten (expired).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np


@dataclass(frozen=True)
class WindowBatch:
    """B people, each padded to T frames (oldest first, newest last).

    times_s:   (B, T) float, seconds relative to each person's newest frame (newest = 0.0,
               older frames negative). Padding frames are marked in ``frame_valid``.
    positions: (B, T, J, 3) float, metres, in the frame of the observations.
    joint_mask: (B, T, J) bool, True where the joint was observed (padding frames: all False).
    frame_valid: (B, T) bool, False for padding frames of people with fewer than T frames.
    track_ids: B track ids, for per-track state.
    """

    times_s: np.ndarray
    positions: np.ndarray
    joint_mask: np.ndarray
    frame_valid: np.ndarray
    track_ids: Sequence[str]


DEFAULT_COVERAGE = 0.9  # share of future positions the published radius holds
# NeRMo can average each forecast with its mirror window's (``ModelConfig.mirror_average``):
# 2-5 % lower error on held-out mocap, but twice the engine time, which took the node past
# its latency target with 8 people at 30 Hz (BENCHMARKS.md); so it is the user's choice.
DEFAULT_MIRROR_AVERAGE = False


@dataclass(frozen=True)
class ForecastBatch:
    """positions: (B, H, J, 3) metres; uncertainty_m: (B, H, J) per-axis 1-sigma metres;
    radius_m: (B, H, J) keep-out radius holding ``coverage`` of future positions, by
    calibration on held-out data (None: the predictor gives none); coverage: 0 when the radius
    is not calibrated (then it is the Gaussian reading of the sigma)."""

    positions: np.ndarray
    uncertainty_m: np.ndarray
    radius_m: np.ndarray | None = None
    coverage: float = 0.0

    def with_input_error(self, input_error_m: np.ndarray,
                         input_sigma_m: np.ndarray) -> "ForecastBatch":
        """The same forecasts for input skeletons that are themselves off by up to
        ``input_error_m`` (1 or J values): added to the radius, since a person within that of
        the input's account, whose future the radius holds, is within the sum of the two
        (triangle inequality; errors that persist over frames do not average out, so no
        quadrature); its Gaussian reading ``input_sigma_m`` added to the per-axis sigma in
        quadrature."""
        return ForecastBatch(
            self.positions, np.hypot(self.uncertainty_m, input_sigma_m).astype(np.float32),
            None if self.radius_m is None else (self.radius_m + input_error_m).astype(np.float32),
            self.coverage)

    def with_radius_scale(self, scale: np.ndarray) -> "ForecastBatch":
        """The same forecasts with each person's radius multiplied by ``scale`` (B, H)."""
        if self.radius_m is None or (scale == 1.0).all():
            return self
        return ForecastBatch(self.positions, self.uncertainty_m,
                             (self.radius_m * scale[..., None]).astype(np.float32), self.coverage)

    def rows(self, keep: Sequence[int]) -> "ForecastBatch":
        """The forecasts of the people at ``keep`` (indices into the batch)."""
        return ForecastBatch(self.positions[keep], self.uncertainty_m[keep],
                             None if self.radius_m is None else self.radius_m[keep],
                             self.coverage)


class Predictor(Protocol):
    name: str  # e.g. "nermo", "constant_velocity"; goes into HumanForecast.predictor
    model_id: str  # checkpoint hash or ""; goes into HumanForecast.model_id
    backend_description: str  # what computes the forecast (engine, device, K); for /diagnostics
    # "" when what was asked for is what runs; else why something else runs (e.g. a GPU
    # backend on a machine without a GPU). The node reports a non-empty one as a warning.
    fallback_reason: str
    # The share of future positions its radius_m is calibrated to hold; 0: not calibrated.
    radius_coverage: float
    radius_note: str  # what the radius is (calibrated by which file, or why not); /diagnostics

    def predict(self, batch: WindowBatch, horizons_s: np.ndarray) -> ForecastBatch:
        """Forecast each person at ``horizons_s`` (H,) seconds after their newest frame."""
        ...

    def reset_track(self, track_id: str) -> None:
        """Drop any state of this track (its history was discarded, e.g. a time jump)."""
        ...
