"""Live coverage: how often people really end up inside the published radius.

Each forecast waits until its horizons arrive. When a person's new frame at stamp t comes after
their previous frame at t_prev, every waiting horizon of theirs whose time falls in
(t_prev, t] is scored against where they were then, linearly interpolated between the two
frames (for joints seen in both, and only across gaps of at most ``max_gap_s``:
``truth.arrivals``). A frame counts as scored once the newest stamp has passed its last horizon; the
summary covers the latest ``max_frames`` scored frames. The waiting forecasts of everyone sit
in one set of arrays, so a frame costs the same few array operations however many people and
forecasts wait.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

import numpy as np

from nermo_ros.forecasting.truth import SCORING_MAX_GAP_S, arrivals, between
from nermo_ros.predictors.base import ForecastBatch


@dataclass(frozen=True)
class LiveCoverageSummary:
    frames: int  # scored frames in the summary
    scored: int  # joint-horizons scored
    coverage: float  # share inside the radius (NaN when nothing was scored)
    coverage_by_horizon: np.ndarray  # (H,)
    mean_radius_by_horizon_m: np.ndarray  # (H,)


class _Waiting:
    """Forecasts waiting for their horizons, one slot each; grows when full (rarely)."""

    NAMES = ("person", "stamps_ns", "active", "positions_m", "radius_m", "counts")

    def __init__(self, horizons: int, joints: int, capacity: int = 64):
        self.person = np.zeros(capacity, np.int64)  # index into the people's last frames
        self.stamps_ns = np.zeros(capacity, np.int64)
        self.active = np.zeros(capacity, bool)
        self.positions_m = np.zeros((capacity, horizons, joints, 3), np.float32)
        self.radius_m = np.zeros((capacity, horizons, joints), np.float32)
        self.counts = np.zeros((capacity, 3, horizons))  # inside, scored, radius sum

    def free_slots(self, count: int) -> np.ndarray:
        free = np.flatnonzero(~self.active)
        while free.size < count:
            for name in self.NAMES:
                array = getattr(self, name)
                setattr(self, name, np.concatenate([array, np.zeros_like(array)]))
            free = np.flatnonzero(~self.active)
        return free[:count]


class _LastFrames:
    """Per person: their two newest frames, as of this frame (``fresh``: they were in it)."""

    def __init__(self, joints: int, capacity: int = 16):
        self.index: dict[str, int] = {}
        self._resize(joints, capacity)

    def _resize(self, joints: int, capacity: int) -> None:
        self.previous_ns = np.zeros(capacity, np.int64)
        self.newest_ns = np.zeros(capacity, np.int64)
        self.fresh = np.zeros(capacity, bool)
        self.previous_m = np.zeros((capacity, joints, 3), np.float32)
        self.newest_m = np.zeros((capacity, joints, 3), np.float32)
        self.seen = np.zeros((capacity, joints), bool)  # in both frames

    def slot(self, track_id: str) -> int:
        if track_id not in self.index:
            used = set(self.index.values())
            free = next(i for i in range(len(self.fresh) + 1) if i not in used)
            if free == len(self.fresh):
                old = (self.previous_ns, self.newest_ns, self.fresh, self.previous_m,
                       self.newest_m, self.seen)
                self._resize(self.seen.shape[1], 2 * len(self.fresh))
                for new, kept in zip((self.previous_ns, self.newest_ns, self.fresh,
                                      self.previous_m, self.newest_m, self.seen), old):
                    new[:len(kept)] = kept
            self.index[track_id] = free
        return self.index[track_id]

    def read(self, stamp_ns: int, windows) -> None:
        self.fresh[:] = False
        for track_id, person in self.index.items():
            window = windows.get(track_id)
            if window is None or window.num_frames < 2 or window.newest_ns != stamp_ns:
                continue
            self.fresh[person] = True
            self.previous_ns[person], self.newest_ns[person] = window.stamps_ns[-2:]
            self.previous_m[person], self.newest_m[person] = window.positions_m[-2:]
            self.seen[person] = window.observed[-2] & window.observed[-1]


class LiveCoverage:
    """Scores the published radius against what each person did next."""

    def __init__(self, horizons_s, max_frames: int, max_gap_s: float = SCORING_MAX_GAP_S):
        self.horizons_ns = np.round(np.asarray(horizons_s, np.float64) * 1e9).astype(np.int64)
        self.max_gap_ns = int(round(max_gap_s * 1e9))
        self.waiting: _Waiting | None = None  # made with the first forecast's joint count
        self.last: _LastFrames | None = None
        self.open: OrderedDict[int, np.ndarray] = OrderedDict()  # stamp -> (3, H) counts
        self.done: deque[np.ndarray] = deque(maxlen=max(max_frames, 1))
        self.newest_ns = 0

    def update(self, stamp_ns: int, track_ids, forecast: ForecastBatch | None,
               windows) -> None:
        """After a frame: score the horizons that arrived for the people in it (``windows``:
        track id -> TrackWindow), close finished frames, then queue this frame's forecasts.
        Stamps going backwards (a bag loop) drop what was waiting."""
        if stamp_ns < self.newest_ns and self.waiting is not None:
            self.waiting.active[:] = False
            self.open.clear()
        self.newest_ns = stamp_ns
        if self.waiting is not None:
            self._forget(windows)
            self.last.read(stamp_ns, windows)
            self._score()
            self._flush(stamp_ns)
        last_ns = stamp_ns - int(self.horizons_ns[-1])
        while self.open and next(iter(self.open)) <= last_ns:
            counts = self.open.popitem(last=False)[1]
            if counts[1].any():  # a frame nobody could be scored in says nothing
                self.done.append(counts)
        if forecast is None or forecast.radius_m is None or not len(track_ids):
            return
        self._queue(stamp_ns, track_ids, forecast)

    def _queue(self, stamp_ns: int, track_ids, forecast: ForecastBatch) -> None:
        if self.waiting is None:
            self.waiting = _Waiting(*forecast.radius_m.shape[1:])
            self.last = _LastFrames(forecast.radius_m.shape[2])
        w = self.waiting
        slots = w.free_slots(len(track_ids))
        w.person[slots] = [self.last.slot(track_id) for track_id in track_ids]
        w.stamps_ns[slots], w.active[slots], w.counts[slots] = stamp_ns, True, 0.0
        w.positions_m[slots], w.radius_m[slots] = forecast.positions, forecast.radius_m
        self.open.setdefault(stamp_ns, np.zeros((3, len(self.horizons_ns))))

    def _forget(self, windows) -> None:
        """People the tracker forgot: their waiting forecasts go."""
        gone = [(track_id, person) for track_id, person in self.last.index.items()
                if track_id not in windows]
        for track_id, person in gone:
            self.waiting.active &= self.waiting.person != person
            del self.last.index[track_id]

    def _score(self) -> None:
        w, last = self.waiting, self.last
        person = w.person
        previous_ns, newest_ns = last.previous_ns[person], last.newest_ns[person]
        live = (w.active & last.fresh[person] & (w.stamps_ns < newest_ns)
                & (newest_ns - previous_ns <= self.max_gap_ns))
        slots, horizons, _, weight = arrivals(w.stamps_ns, live[:, None], self.horizons_ns,
                                              previous_ns, newest_ns)
        if not slots.size:
            return
        who = person[slots]
        truth = between(last.previous_m[who], last.newest_m[who], weight)
        seen = last.seen[who]  # (M, J)
        radius = w.radius_m[slots, horizons]
        error = np.linalg.norm(w.positions_m[slots, horizons] - truth, axis=-1)
        # each (slot, horizon) arrives once, so plain fancy-index adds are exact
        w.counts[slots, 0, horizons] += ((error <= radius) & seen).sum(axis=1)
        w.counts[slots, 1, horizons] += seen.sum(axis=1)
        w.counts[slots, 2, horizons] += (radius * seen).sum(axis=1)

    def _flush(self, now_ns: int) -> None:
        """Hand the counts of forecasts whose last horizon has passed to their frames."""
        w = self.waiting
        finished = w.active & (w.stamps_ns + self.horizons_ns[-1] <= now_ns)
        for slot in np.flatnonzero(finished):  # about one per person and frame
            counts = self.open.get(int(w.stamps_ns[slot]))
            if counts is not None:
                counts += w.counts[slot]
        w.active &= ~finished

    def summary(self) -> LiveCoverageSummary:
        total = np.sum(self.done, axis=0) if self.done else np.zeros((3, len(self.horizons_ns)))
        inside, scored, radius = total
        with np.errstate(invalid="ignore", divide="ignore"):
            by_horizon, mean_radius = inside / scored, radius / scored
        coverage = inside.sum() / scored.sum() if scored.sum() else float("nan")
        return LiveCoverageSummary(len(self.done), int(scored.sum()), float(coverage),
                                   by_horizon, mean_radius)
