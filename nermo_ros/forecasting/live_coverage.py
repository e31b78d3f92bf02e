"""Live coverage: how often people really end up inside the published radius.

Each forecast waits, per track, until its horizons arrive. When a track's new frame at stamp t
comes after its previous frame at t_prev, every pending horizon whose time falls in
(t_prev, t] is scored against the person's position there, linearly interpolated between the
two frames (for joints seen in both, and only across gaps of at most ``max_gap_s``, as in
``truth.py``). A frame counts as scored once the newest stamp has passed its last horizon; the
summary covers the latest ``max_frames`` scored frames. Per frame the work is a few array
operations per person, however many forecasts wait.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

import numpy as np

from nermo_ros.forecasting.truth import SCORING_MAX_GAP_S
from nermo_ros.predictors.base import ForecastBatch


@dataclass(frozen=True)
class LiveCoverageSummary:
    frames: int  # scored frames in the summary
    scored: int  # joint-horizons scored
    coverage: float  # share inside the radius (NaN when nothing was scored)
    coverage_by_horizon: np.ndarray  # (H,)
    mean_radius_by_horizon_m: np.ndarray  # (H,)


class _Pending:
    """One track's forecasts still waiting for horizons; grows when full (rarely)."""

    def __init__(self, horizons: int, joints: int, capacity: int = 32):
        self.stamps_ns = np.zeros(capacity, np.int64)
        self.active = np.zeros(capacity, bool)
        self.positions_m = np.zeros((capacity, horizons, joints, 3), np.float32)
        self.radius_m = np.zeros((capacity, horizons, joints), np.float32)

    def add(self, stamp_ns: int, positions_m: np.ndarray, radius_m: np.ndarray) -> None:
        free = np.flatnonzero(~self.active)
        if not free.size:
            self._grow()
            free = np.flatnonzero(~self.active)
        slot = free[0]
        self.stamps_ns[slot], self.active[slot] = stamp_ns, True
        self.positions_m[slot], self.radius_m[slot] = positions_m, radius_m

    def _grow(self) -> None:
        for name in ("stamps_ns", "active", "positions_m", "radius_m"):
            array = getattr(self, name)
            setattr(self, name, np.concatenate([array, np.zeros_like(array)]))


class LiveCoverage:
    """Scores the published radius against what each person did next."""

    def __init__(self, horizons_s, max_frames: int, max_gap_s: float = SCORING_MAX_GAP_S):
        self.horizons_ns = np.round(np.asarray(horizons_s, np.float64) * 1e9).astype(np.int64)
        self.max_gap_ns = int(round(max_gap_s * 1e9))
        self.pending: dict[str, _Pending] = {}
        self.open: OrderedDict[int, np.ndarray] = OrderedDict()  # stamp -> (3, H) counts
        self.done: deque[np.ndarray] = deque(maxlen=max(max_frames, 1))
        self.newest_ns = 0

    def update(self, stamp_ns: int, track_ids, forecast: ForecastBatch | None,
               windows) -> None:
        """After a frame: score arrived horizons of the tracks seen at ``stamp_ns`` (``windows``:
        track id -> TrackWindow), close finished frames, then queue this frame's forecasts.
        Stamps going backwards (a bag loop) drop what was waiting."""
        if stamp_ns < self.newest_ns:
            self.pending.clear()
            self.open.clear()
        self.newest_ns = stamp_ns
        for track_id, pending in self.pending.items():
            window = windows.get(track_id)
            if window is not None and window.num_frames >= 2 and window.newest_ns == stamp_ns:
                self._score(pending, window)
        last_ns = stamp_ns - int(self.horizons_ns[-1])
        while self.open and next(iter(self.open)) <= last_ns:
            counts = self.open.popitem(last=False)[1]
            if counts[1].any():  # a frame nobody could be scored in says nothing
                self.done.append(counts)
        for track_id in [t for t in self.pending if t not in windows]:
            del self.pending[track_id]  # forgotten by the tracker
        if forecast is None or forecast.radius_m is None or not len(track_ids):
            return
        self.open.setdefault(stamp_ns, np.zeros((3, len(self.horizons_ns))))
        shape = forecast.radius_m.shape[1:]
        for row, track_id in enumerate(track_ids):
            pending = self.pending.get(track_id)
            if pending is None:
                pending = self.pending[track_id] = _Pending(*shape)
            pending.add(stamp_ns, forecast.positions[row], forecast.radius_m[row])

    def _score(self, pending: _Pending, window) -> None:
        newest_ns, previous_ns = int(window.stamps_ns[-1]), int(window.stamps_ns[-2])
        pending.active &= pending.stamps_ns < newest_ns  # made later: the track started over
        targets = pending.stamps_ns[:, None] + self.horizons_ns[None]  # (P, H)
        arrived = pending.active[:, None] & (targets > previous_ns) & (targets <= newest_ns)
        slots, horizons = np.nonzero(arrived)
        if slots.size and newest_ns - previous_ns <= self.max_gap_ns:
            weight = ((targets[slots, horizons] - previous_ns)
                      / (newest_ns - previous_ns))[:, None, None]
            truth = (1 - weight) * window.positions_m[-2] + weight * window.positions_m[-1]
            seen = window.observed[-2] & window.observed[-1]  # (J,)
            error = np.linalg.norm(pending.positions_m[slots, horizons] - truth, axis=-1)
            inside = ((error <= pending.radius_m[slots, horizons]) & seen).sum(axis=1)
            radius = (pending.radius_m[slots, horizons] * seen).sum(axis=1)
            count = int(seen.sum())
            for slot, k, n_inside, r_sum in zip(slots, horizons, inside, radius):
                counts = self.open.get(int(pending.stamps_ns[slot]))
                if counts is not None:
                    counts[:, k] += (n_inside, count, r_sum)
        pending.active &= pending.stamps_ns + self.horizons_ns[-1] > newest_ns

    def summary(self) -> LiveCoverageSummary:
        total = np.sum(self.done, axis=0) if self.done else np.zeros((3, len(self.horizons_ns)))
        inside, scored, radius = total
        with np.errstate(invalid="ignore", divide="ignore"):
            by_horizon, mean_radius = inside / scored, radius / scored
        coverage = inside.sum() / scored.sum() if scored.sum() else float("nan")
        return LiveCoverageSummary(len(self.done), int(scored.sum()), float(coverage),
                                   by_horizon, mean_radius)
