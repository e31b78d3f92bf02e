"""Score forecasts against what each person actually did: MPJPE per horizon and per joint.

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
    for i, record in enumerate(records):
        seg = _segment_for(truth.tracks.get(record.track_id, []), record.stamp_ns)
        if seg is None:
            continue
        offsets = np.round(np.asarray(record.time_offsets_s, dtype=np.float64), 6)
        target_ns = record.stamp_ns + np.round(offsets * 1e9).astype(np.int64)
        actual, valid = interpolate(seg, target_ns, max_gap_s)
        err = np.linalg.norm(np.asarray(record.positions_m, dtype=np.float64) - actual, axis=-1)
        errors[i, np.searchsorted(horizons, offsets)] = np.where(valid, err, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an unscored cell is NaN by design
        by_h = np.nanmean(errors, axis=(0, 2))
        by_j = np.nanmean(errors, axis=(0, 1))
        by_hj = np.nanmean(errors, axis=0)
    made = {(r.track_id, r.stamp_ns) for r in records}
    return Scores(horizons, errors, by_h, by_j, by_hj,
                  np.isfinite(errors).any(axis=2).sum(axis=0), len(truth.inputs),
                  len(truth.inputs & made), len(records))
