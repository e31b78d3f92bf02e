"""Score forecasts against what each person then did, as the stream goes on.

A forecast made at stamp t for offset h is scored once the person has been observed at or
past t + h: the truth is the observed pose linearly interpolated to t + h (joints observed at
both neighbouring frames only). The zero-velocity baseline is scored the same way from the
demo's own window of the same observations, so both numbers come from identical inputs.
Errors are MPJPE: the mean Euclidean joint error, in millimetres.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from nermo_ros.forecasting.truth import SCORING_MAX_GAP_S as MAX_GAP_S
from nermo_ros.forecasting.truth import interpolate


@dataclass
class _Pending:
    stamp_ns: int
    targets_ns: np.ndarray  # (H,)
    forecasts_m: dict[str, np.ndarray]  # predictor name -> (H, J, 3)
    next_horizon: int = 0

    @property
    def done(self) -> bool:
        return self.next_horizon >= len(self.targets_ns)


@dataclass
class _Track:
    observed: deque = field(default_factory=deque)  # (stamp_ns, positions (J, 3), known (J,))
    pending: deque = field(default_factory=deque)


class LiveErrors:
    """MPJPE per predictor and horizon, in total and over the most recent scores."""

    def __init__(self, horizons_s, recent: int = 30):
        self.horizons_s = np.asarray(horizons_s, dtype=float)
        self._horizons_ns = np.round(self.horizons_s * 1e9).astype(np.int64)
        self._keep_ns = int(self._horizons_ns.max() + MAX_GAP_S * 1e9) + 1
        self._tracks: dict[str, _Track] = {}
        self._sums_mm: dict[str, np.ndarray] = {}
        self._counts: dict[str, np.ndarray] = {}
        self._recent: dict[tuple[str, int], deque] = {}
        self._recent_size = recent

    def observe(self, track_id: str, stamp_ns: int, positions_m: np.ndarray,
                known: np.ndarray) -> None:
        """An observed skeleton: it may settle pending forecasts of this track."""
        track = self._tracks.setdefault(track_id, _Track())
        if track.observed and stamp_ns <= track.observed[-1][0]:
            track.observed.clear()  # time went back (a loop): old forecasts are meaningless
            track.pending.clear()
        track.observed.append((stamp_ns, np.array(positions_m, float), np.array(known, bool)))
        while track.observed and track.observed[0][0] < stamp_ns - self._keep_ns:
            track.observed.popleft()
        self._settle(track)

    def forecast(self, track_id: str, stamp_ns: int, forecasts_m: dict[str, np.ndarray]) -> None:
        """Forecasts made at ``stamp_ns`` for self.horizons_s, by predictor name."""
        track = self._tracks.setdefault(track_id, _Track())
        track.pending.append(_Pending(stamp_ns, stamp_ns + self._horizons_ns, forecasts_m))
        self._settle(track)

    def mpjpe_mm(self, name: str) -> np.ndarray:
        """(H,) mean error per horizon so far (NaN where nothing was scored)."""
        counts = self._counts.get(name, np.zeros(len(self.horizons_s)))
        sums = self._sums_mm.get(name, np.zeros(len(self.horizons_s)))
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def recent_mpjpe_mm(self, name: str, horizon_s: float) -> float:
        """Mean error of the most recent scores at ``horizon_s`` (NaN if none)."""
        scores = self._recent.get((name, self._horizon_index(horizon_s)))
        return float(np.mean(scores)) if scores else float("nan")

    def count(self, name: str, horizon_s: float) -> int:
        counts = self._counts.get(name)
        return 0 if counts is None else int(counts[self._horizon_index(horizon_s)])

    def _horizon_index(self, horizon_s: float) -> int:
        matches = np.flatnonzero(np.isclose(self.horizons_s, horizon_s))
        if not matches.size:
            raise ValueError(f"horizon {horizon_s} s is not one of {list(self.horizons_s)}")
        return int(matches[0])

    def _settle(self, track: _Track) -> None:
        """Score every due horizon of every pending forecast; drop the fully scored ones."""
        if not track.observed:
            return
        newest_ns = track.observed[-1][0]
        for item in track.pending:
            while (item.next_horizon < len(item.targets_ns)
                   and item.targets_ns[item.next_horizon] <= newest_ns):
                truth = self._truth_at(track, int(item.targets_ns[item.next_horizon]))
                if truth is not None:
                    self._score(item, truth)
                item.next_horizon += 1
            if item.next_horizon == 0:
                break  # not even its first horizon is due, so none of the later ones is
        while track.pending and track.pending[0].done:
            track.pending.popleft()

    def _truth_at(self, track: _Track, target_ns: int):
        """Observed pose interpolated to target_ns, with the joints known at both ends."""
        stamps, poses, known = zip(*track.observed)
        positions, valid = interpolate(np.array(stamps), np.stack(poses), np.stack(known),
                                       np.array([target_ns]))
        return (positions[0], valid[0]) if valid[0].any() else None

    def _score(self, item: _Pending, truth) -> None:
        positions, known = truth
        if not known.any():
            return
        k = item.next_horizon
        for name, forecast in item.forecasts_m.items():
            error_mm = 1e3 * np.linalg.norm(forecast[k] - positions, axis=-1)[known].mean()
            self._sums_mm.setdefault(name, np.zeros(len(self.horizons_s)))[k] += error_mm
            self._counts.setdefault(name, np.zeros(len(self.horizons_s)))[k] += 1
            self._recent.setdefault((name, k), deque(maxlen=self._recent_size)).append(error_mm)
