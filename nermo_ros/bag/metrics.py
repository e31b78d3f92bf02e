"""Score forecasts against what each person actually did: MPJPE per horizon and per joint, and
how often the truth fell inside the forecast's keep-out radius (coverage) with the mean radius.

A forecast made from the frame at stamp t for offset h is compared with the person's recorded
skeleton at t + h, linearly interpolated between the two recorded frames around that time.
It is not scored where it cannot be judged: past the end of the recording, across a gap in it
(the frames around t + h further apart than ``max_gap_s``), or for a joint missing in either
frame around t + h.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from nermo_ros.bag.messages import ForecastRecord, SkeletonFrame
from nermo_ros.skeleton import NUM_JOINTS
from nermo_ros.forecasting.truth import SCORING_MAX_GAP_S
from nermo_ros.forecasting.truth import interpolate as interpolate_track
from nermo_ros.tracking.validation import BodyLimits, Rejection, validate_skeleton


@dataclass(frozen=True)
class TrackTruth:
    """One person's recorded skeletons between two backward time jumps, in time order."""

    stamps_ns: np.ndarray  # (T,) int64, strictly increasing
    positions_m: np.ndarray  # (T, J, 3)
    observed: np.ndarray  # (T, J) bool


@dataclass(frozen=True)
class GroundTruth:
    tracks: dict[str, list[TrackTruth]]
    inputs: frozenset[tuple[str, int]]  # (track id, stamp) of every valid recorded skeleton
    invalid: int  # skeletons that failed validation


def ground_truth(frames: list[SkeletonFrame], min_joint_confidence: float,
                 limits: BodyLimits) -> GroundTruth:
    """Per-track time series of the skeletons the predictor would accept (same checks); a
    track is split where its stamps go backwards (a bag loop)."""
    series: dict[str, list[list[tuple[int, np.ndarray, np.ndarray]]]] = {}
    inputs, invalid = set(), 0
    for frame in frames:
        for person in frame.people:
            valid = validate_skeleton(person.layout, person.joint_names, person.positions,
                                      person.confidence, min_joint_confidence, limits)
            if isinstance(valid, Rejection):
                invalid += 1
                continue
            segments = series.setdefault(person.track_id, [[]])
            if segments[-1] and frame.stamp_ns <= segments[-1][-1][0]:
                if frame.stamp_ns == segments[-1][-1][0]:
                    continue  # a repeated stamp adds nothing
                segments.append([])
            segments[-1].append((frame.stamp_ns, valid.positions_m, valid.observed))
            inputs.add((person.track_id, frame.stamp_ns))
    tracks = {track: [TrackTruth(np.array([s for s, _, _ in seg], dtype=np.int64),
                                 np.stack([p for _, p, _ in seg]).astype(np.float64),
                                 np.stack([o for _, _, o in seg]))
                      for seg in segments if seg]
              for track, segments in series.items()}
    return GroundTruth(tracks, frozenset(inputs), invalid)


def interpolate(truth: TrackTruth, query_ns: np.ndarray, max_gap_s: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """(N, J, 3) positions at ``query_ns`` and (N, J) validity, linear between recorded frames."""
    return interpolate_track(truth.stamps_ns, truth.positions_m, truth.observed, query_ns,
                             max_gap_s)


def _segment_for(segments: list[TrackTruth], stamp_ns: int) -> TrackTruth | None:
    """The segment holding the frame the forecast was made from."""
    for seg in segments:
        if stamp_ns in seg.stamps_ns:
            return seg
    for seg in segments:
        if seg.stamps_ns[0] <= stamp_ns <= seg.stamps_ns[-1]:
            return seg
    return None


@dataclass(frozen=True)
class Scores:
    horizons_s: np.ndarray  # (H,)
    errors_m: np.ndarray  # (F, H, J), NaN where not scored
    mpjpe_by_horizon_m: np.ndarray  # (H,)
    mpjpe_by_joint_m: np.ndarray  # (J,)
    mpjpe_by_horizon_joint_m: np.ndarray  # (H, J)
    scored_by_horizon: np.ndarray  # (H,) forecasts with at least one scored joint
    inputs: int  # valid recorded skeletons
    inputs_forecast: int  # of those, how many got a forecast
    forecasts: int
    # Where the forecasts carry a radius: share of scored joint-horizons inside it, its mean
    # and how many were scored, per horizon (NaN, NaN, 0 where none), and the coverage the
    # forecasts state (their largest; 0: not calibrated, or no radius).
    coverage_by_horizon: np.ndarray | None = None  # (H,)
    mean_radius_by_horizon_m: np.ndarray | None = None  # (H,)
    radius_scored_by_horizon: np.ndarray | None = None  # (H,)
    coverage_stated: float = 0.0

    @property
    def coverage(self) -> float:
        """Share inside the radius over every scored joint-horizon with a radius."""
        if self.radius_scored_by_horizon is None or not self.radius_scored_by_horizon.sum():
            return float("nan")
        inside = np.nan_to_num(self.coverage_by_horizon) * self.radius_scored_by_horizon
        return float(inside.sum() / self.radius_scored_by_horizon.sum())

    @property
    def share_forecast(self) -> float:
        return self.inputs_forecast / self.inputs if self.inputs else 0.0

    @property
    def mpjpe_m(self) -> float:
        scored = self.errors_m[np.isfinite(self.errors_m)]
        return float(scored.mean()) if scored.size else float("nan")


def score(records: list[ForecastRecord], truth: GroundTruth,
          max_gap_s: float = SCORING_MAX_GAP_S) -> Scores:
    """Errors of every forecast step against the interpolated recorded skeleton."""
    horizons = np.unique(np.round(np.concatenate(
        [r.time_offsets_s for r in records] or [np.zeros(0)]), 6))
    errors = np.full((len(records), len(horizons), NUM_JOINTS), np.nan)
    radii = np.full_like(errors, np.nan)
    for i, record in enumerate(records):
        seg = _segment_for(truth.tracks.get(record.track_id, []), record.stamp_ns)
        if seg is None:
            continue
        offsets = np.round(np.asarray(record.time_offsets_s, dtype=np.float64), 6)
        target_ns = record.stamp_ns + np.round(offsets * 1e9).astype(np.int64)
        actual, valid = interpolate(seg, target_ns, max_gap_s)
        err = np.linalg.norm(np.asarray(record.positions_m, dtype=np.float64) - actual, axis=-1)
        columns = np.searchsorted(horizons, offsets)
        errors[i, columns] = np.where(valid, err, np.nan)
        if record.radius_m is not None:
            radii[i, columns] = np.where(valid, record.radius_m, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an unscored cell is NaN by design
        by_h = np.nanmean(errors, axis=(0, 2))
        by_j = np.nanmean(errors, axis=(0, 1))
        by_hj = np.nanmean(errors, axis=0)
    made = {(r.track_id, r.stamp_ns) for r in records}
    coverage, mean_radius, radius_scored = coverage_by_horizon(errors, radii)
    stated = max((float(r.coverage) for r in records if r.radius_m is not None), default=0.0)
    return Scores(horizons, errors, by_h, by_j, by_hj,
                  np.isfinite(errors).any(axis=2).sum(axis=0), len(truth.inputs),
                  len(truth.inputs & made), len(records), coverage, mean_radius, radius_scored,
                  stated)


def coverage_by_horizon(errors_m: np.ndarray, radii_m: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F, H, J) errors and radii (NaN: not scored / no radius) -> per horizon the share with
    error <= radius, the mean radius and the count, over the cells where both exist."""
    both = np.isfinite(errors_m) & np.isfinite(radii_m)
    count = both.sum(axis=(0, 2))
    inside = (both & (np.where(both, errors_m, 0.0) <= np.where(both, radii_m, 0.0))).sum(
        axis=(0, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (inside / count, np.where(both, radii_m, 0.0).sum(axis=(0, 2)) / count,
                count)
