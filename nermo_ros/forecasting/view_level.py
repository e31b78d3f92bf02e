"""The view's tilt, read off the people in it, and the turn that takes it away.

The models learned from mocap whose vertical is gravity's. A camera pitched down at people
reports them leaning by its angle, and that costs the forecast 1.1-3.5 times its error at
80 ms (BENCHMARKS.md, "A tilted view"). ``level_body`` stands each window upright, which also
takes away the person's own lean (up to 10 % more error on upright people). A camera's tilt is
the same for everyone and changes slowly, while people lean this way and that: over CMU's
trials a person's spine, averaged over 10 s, is 1-11 degrees from vertical on all but the
directing-traffic trials (up to 29 degrees there, while bending). So the view's up is the
mean of everyone's spine direction over the last seconds (``half_life_s``), and the whole
window is turned by the one rotation taking that up to +z, only when the tilt is at least
``min_tilt_deg``: a level view is left as it is, and a pitched one keeps each person's own
lean. Spines tilted more than ``max_tilt_deg`` from the frame's z (someone crawling or lying
down) say nothing about the camera and are left out of the mean; a mean that far off is no
camera's tilt, and the view is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.predictors.base import ForecastBatch, WindowBatch
# a shorter pelvis-to-neck line (both joints barely apart) says nothing: MIN_SPINE_M
from nermo_ros.predictors.levelling import MIN_SPINE_M, SPINE_JOINTS, turns_to_up
from nermo_ros.skeleton import LAYOUT_ID

DEFAULT_HALF_LIFE_S = 10.0
DEFAULT_MIN_TILT_DEG = 15.0
DEFAULT_MAX_TILT_DEG = 60.0
# Spines (decayed) the mean needs before it is trusted: a quarter of a second of one person
# at 20 Hz. Chosen on the held-out CMU trials (BENCHMARKS.md, "A tilted view"): 5 against 10
# and 20, the same on level views, and up to 5 % less error on pitched ones, which a later
# estimate leaves untouched for longer.
MIN_SPINES = 5.0


@dataclass(frozen=True)
class ViewLevelSettings:
    half_life_s: float = DEFAULT_HALF_LIFE_S
    min_tilt_deg: float = DEFAULT_MIN_TILT_DEG
    max_tilt_deg: float = DEFAULT_MAX_TILT_DEG


class ViewLevel:
    """Everyone's spine direction, decayed over time; the view's tilt and its levelling turn."""

    def __init__(self, settings: ViewLevelSettings | None = None):
        self.settings = settings or ViewLevelSettings()
        self.pelvis, self.neck = SPINE_JOINTS[LAYOUT_ID]
        self.max_cos = np.cos(np.radians(self.settings.max_tilt_deg))
        self.sum = np.zeros(3)  # decayed sum of unit spine directions
        self.count = 0.0  # decayed number of them
        self.updated_ns: int | None = None

    def update(self, stamp_ns: int, newest_m: np.ndarray, seen: np.ndarray) -> None:
        """Add this frame's spines: ``newest_m`` (N, J, 3) the people's newest positions,
        ``seen`` (N, J) which joints were observed. Stamps going backwards start over."""
        if self.updated_ns is not None and stamp_ns < self.updated_ns:
            self.sum[:], self.count = 0.0, 0.0
        elif self.updated_ns is not None:
            decay = 0.5 ** ((stamp_ns - self.updated_ns) * 1e-9 / self.settings.half_life_s)
            self.sum *= decay
            self.count *= decay
        self.updated_ns = stamp_ns
        both = seen[:, self.pelvis] & seen[:, self.neck]
        spine = newest_m[both, self.neck] - newest_m[both, self.pelvis]
        length = np.linalg.norm(spine, axis=-1)
        unit = spine[length >= MIN_SPINE_M] / length[length >= MIN_SPINE_M, None]
        upright_enough = unit[unit[:, 2] >= self.max_cos]
        self.sum += upright_enough.sum(axis=0)
        self.count += len(upright_enough)

    @property
    def tilt_deg(self) -> float:
        """Degrees between the view's estimated up and the frame's z; NaN until enough spines
        were seen."""
        length = np.linalg.norm(self.sum)
        if self.count < MIN_SPINES or length == 0.0:
            return float("nan")
        return float(np.degrees(np.arccos(np.clip(self.sum[2] / length, -1.0, 1.0))))

    def turn(self) -> np.ndarray | None:
        """(3, 3) rotation taking the view's up to +z; None to leave the view as it is (level
        enough, too little seen, or tilted further than a camera looking at people is)."""
        tilt = self.tilt_deg
        if not self.settings.min_tilt_deg <= tilt <= self.settings.max_tilt_deg:
            return None  # NaN compares False: not yet known
        return turns_to_up(self.sum[None])[0]


def turn_batch(batch: WindowBatch, turn: np.ndarray) -> WindowBatch:
    """The windows with every position turned by ``turn`` about the frame's origin."""
    return WindowBatch(batch.times_s, batch.positions @ turn.T, batch.joint_mask,
                       batch.frame_valid, batch.track_ids)


def turn_back(forecast: ForecastBatch, turn: np.ndarray) -> ForecastBatch:
    """A forecast made in the turned view, in the input's frame again (distances, and so the
    radius and sigma, do not change)."""
    positions = (forecast.positions @ turn).astype(forecast.positions.dtype)
    return ForecastBatch(positions, forecast.uncertainty_m, forecast.radius_m,
                         forecast.coverage)
