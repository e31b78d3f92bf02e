"""Each person's track record: at which horizons a baseline has lately beaten the model.

NeRMo learned from CMU's trials. For motion those trials do not show (crawling, getting up from
the floor, acrobatics, a fast run) it can be worse than the trivial forecasts (BENCHMARKS.md,
"Motion unlike the training data"), and nothing in one window says so reliably. What does say
so is what the person did next: every forecast is scored when its horizons arrive, for the
model and for the baselines alike, against where the person then was (linearly interpolated
between the two frames around that time, joints seen in both: ``truth.arrivals``, as
``live_coverage.py`` scores the radius). Per person and horizon, each forecaster's mean error
is kept with weights that halve every ``half_life_s`` seconds. Where a baseline's mean is
lower than the model's by more than ``margin`` (as a share of the baseline's), after at least
``min_scored`` scored forecasts, that horizon of that person's next forecast is the baseline's.

The published radius is scored the same way: per person and horizon it is multiplied by a
factor of at least 1 that grows while the share of joints outside it exceeds ``1 - coverage``
and shrinks back while it is below (adaptive conformal prediction), so that a person whose
motion the calibration does not cover gets a radius that holds again.

Neither needs a threshold learned from unusual motion: both adapt to the person in front of
the camera within about a second of their future arriving. The cost is that a change of motion
is noticed only once forecasts made before it have matured.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from nermo_ros.forecasting.truth import SCORING_MAX_GAP_S, arrivals, between
from nermo_ros.predictors.base import ForecastBatch

DEFAULT_HALF_LIFE_S = 1.0
DEFAULT_MARGIN = 0.25
DEFAULT_MIN_SCORED = 5
# A person's radius grows by exp(rate * (share missed - share allowed)) per scored forecast
# and horizon: after forecasts that miss every joint it doubles in about 8 of them (a quarter
# of a second at 30 Hz); while it holds every joint it shrinks back by 1 % a forecast.
DEFAULT_RADIUS_RATE = 0.1
MAX_RADIUS_SCALE = 20.0


@dataclass(frozen=True)
class TrackRecordSettings:
    half_life_s: float = DEFAULT_HALF_LIFE_S
    margin: float = DEFAULT_MARGIN
    min_scored: int = DEFAULT_MIN_SCORED
    max_gap_s: float = SCORING_MAX_GAP_S  # frames further apart than this score nothing
    radius_rate: float = DEFAULT_RADIUS_RATE  # 0: the radius is published as it comes
    coverage: float = 0.9  # the share of joints the radius should hold


class _Person:
    """One person's waiting forecasts (slots reused once scored), decayed error sums and
    radius scale."""

    def __init__(self, candidates: int, horizons: int):
        self.active = np.zeros(0, bool)  # (N,) slots holding a waiting forecast
        self.stamps_ns = self.positions = self.scored = self.choice = self.radius = None
        self.error_sum = np.zeros((candidates, horizons))  # decayed sums of mean joint errors
        self.weight_sum = np.zeros(horizons)  # decayed count
        self.count = np.zeros(horizons, np.int64)  # forecasts scored, not decayed
        self.updated_ns = np.zeros(horizons, np.int64)  # when the sums were last decayed
        self.radius_scale = np.ones(horizons)  # what the published radius is multiplied by

    def add(self, stamp_ns: int, positions: np.ndarray, choice: np.ndarray,
            radius: np.ndarray) -> None:
        """Hold one forecast: every candidate's positions (C, H, J, 3), which one was
        published per horizon (H,) and the radius published before the scale (H, J)."""
        free = np.flatnonzero(~self.active)
        if not free.size:
            free = self._grow(positions, radius)
        slot = free[0]
        self.active[slot], self.stamps_ns[slot], self.scored[slot] = True, stamp_ns, False
        self.positions[slot], self.choice[slot], self.radius[slot] = positions, choice, radius

    def _grow(self, positions: np.ndarray, radius: np.ndarray) -> np.ndarray:
        """Twice the slots (8 to start: about a second of frames fill 30); the new ones."""
        old = len(self.active)
        more = max(old, 8)
        shapes = {"active": ((), bool), "stamps_ns": ((), np.int64),
                  "positions": (positions.shape, np.float32),
                  "scored": ((len(radius),), bool), "choice": ((len(radius),), np.int64),
                  "radius": (radius.shape, np.float32)}
        for name, (shape, dtype) in shapes.items():
            extra = np.zeros((more, *shape), dtype)
            held = getattr(self, name)
            setattr(self, name, extra if held is None else np.concatenate([held, extra]))
        return np.arange(old, old + more)

    def finish(self, done: np.ndarray) -> None:
        """Free the slots of forecasts that are done (``done``: (N,) bool)."""
        self.active &= ~done


class TrackRecord:
    """Scores every forecaster's forecasts per person and horizon; picks one per horizon.

    ``candidates``: forecaster names, the model first (index 0, kept unless beaten).
    """

    def __init__(self, candidates: tuple[str, ...], horizons_s,
                 settings: TrackRecordSettings | None = None):
        self.candidates = tuple(candidates)
        self.settings = settings or TrackRecordSettings()
        self.horizons_ns = np.round(np.asarray(horizons_s, np.float64) * 1e9).astype(np.int64)
        self.max_gap_ns = int(round(self.settings.max_gap_s * 1e9))
        self.allowed_miss = 1.0 - self.settings.coverage
        self.people: dict[str, _Person] = {}
        self.latest_choice: dict[str, np.ndarray] = {}  # track id -> (H,) of its last forecast
        # forecasts published with a baseline at some horizon, and horizons so published,
        # per candidate (index 0 unused), since start
        self.forecasts_with_baseline = 0
        self.horizons_by_candidate = np.zeros(len(self.candidates), np.int64)

    def forget(self, track_id: str) -> None:
        """The person is gone or started over: their record goes with them."""
        self.people.pop(track_id, None)
        self.latest_choice.pop(track_id, None)

    def score(self, stamp_ns: int, windows) -> None:
        """Score the waiting horizons that arrived with this frame (``windows``: track id ->
        TrackWindow, after the frame was added)."""
        for track_id, person in self.people.items():
            window = windows.get(track_id)
            if window is None or window.num_frames < 2 or window.newest_ns != stamp_ns:
                continue
            previous_ns, newest_ns = (int(s) for s in window.stamps_ns[-2:])
            if newest_ns - previous_ns > self.max_gap_ns:
                self._drop_arrived(person, newest_ns)
                continue
            seen = window.observed[-2] & window.observed[-1]
            if seen.any():
                self._score_person(person, previous_ns, newest_ns,
                                   window.positions_m[-2], window.positions_m[-1], seen)
            self._drop_arrived(person, newest_ns)

    def _score_person(self, person: _Person, previous_ns: int, newest_ns: int,
                      previous_m: np.ndarray, newest_m: np.ndarray, seen: np.ndarray) -> None:
        rows, horizons, target_ns, weight = arrivals(
            person.stamps_ns, person.active[:, None] & ~person.scored, self.horizons_ns,
            previous_ns, newest_ns)
        if not rows.size:
            return
        truth = between(previous_m[seen], newest_m[seen], weight)  # (M, S, 3)
        forecast = person.positions[rows, :, horizons][:, :, seen]  # (M, C, S, 3)
        distances = np.linalg.norm(forecast - truth[:, None], axis=-1)  # (M, C, S)
        errors = distances.mean(axis=-1)  # (M, C)
        published = distances[np.arange(rows.size), person.choice[rows, horizons]]  # (M, S)
        radius = person.radius[rows, horizons][:, seen]  # (M, S), before the scale
        person.scored[rows, horizons] = True
        half_life_ns = self.settings.half_life_s * 1e9
        for now in _one_per_horizon(horizons, target_ns):
            h = horizons[now]
            decay = 0.5 ** ((target_ns[now] - person.updated_ns[h]) / half_life_ns)
            person.error_sum[:, h] = decay * person.error_sum[:, h] + errors[now].T
            person.weight_sum[h] = decay * person.weight_sum[h] + 1.0
            person.updated_ns[h] = target_ns[now]
            person.count[h] += 1
            # adaptive conformal step: up while the radius, at today's scale, misses more than
            # the allowed share, down (to 1) while it holds more than it must. Today's scale,
            # not the one published: a forecast arrives a horizon late, and scoring what was
            # published then would keep the scale growing for a horizon after it holds.
            missed = (published[now] > radius[now] * person.radius_scale[h][:, None]).mean(-1)
            step = np.exp(self.settings.radius_rate * (missed - self.allowed_miss))
            person.radius_scale[h] = np.clip(person.radius_scale[h] * step, 1.0,
                                             MAX_RADIUS_SCALE)

    def _drop_arrived(self, person: _Person, newest_ns: int) -> None:
        """Forecasts whose last horizon has passed are done (scored or not)."""
        person.finish(person.stamps_ns + self.horizons_ns[-1] <= newest_ns)

    def mean_errors(self, track_id: str) -> np.ndarray | None:
        """(C, H) decayed mean errors (m); NaN at horizons with too few scored forecasts."""
        person = self.people.get(track_id)
        if person is None:
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            means = person.error_sum / person.weight_sum
        means[:, person.count < self.settings.min_scored] = np.nan
        return means

    def choose(self, track_ids) -> np.ndarray:
        """(B, H) index of the forecaster to publish per person and horizon (0: the model)."""
        choice = np.zeros((len(track_ids), len(self.horizons_ns)), np.int64)
        for row, track_id in enumerate(track_ids):
            means = self.mean_errors(track_id)
            if means is None or len(self.candidates) < 2:
                continue
            best = 1 + np.argmin(np.nan_to_num(means[1:], nan=np.inf), axis=0)
            best_error = np.take_along_axis(means, best[None], axis=0)[0]
            beaten = best_error * (1 + self.settings.margin) < means[0]  # NaN: False
            choice[row] = np.where(beaten, best, 0)
        for row, track_id in enumerate(track_ids):
            self.latest_choice[track_id] = choice[row]
        return choice

    def remember(self, stamp_ns: int, track_ids, forecasts: list[ForecastBatch],
                 choice: np.ndarray, published: ForecastBatch) -> None:
        """Queue this frame's forecasts of every candidate (in ``candidates`` order), which
        one was published at each horizon and the radius published, before the scale."""
        stacked = np.stack([f.positions for f in forecasts], axis=1)  # (B, C, H, J, 3)
        radius = (published.radius_m if published.radius_m is not None
                  else np.full(published.uncertainty_m.shape, np.inf, np.float32))
        for row, track_id in enumerate(track_ids):
            person = self.people.get(track_id)
            if person is None:
                person = self.people[track_id] = _Person(len(self.candidates),
                                                         len(self.horizons_ns))
            person.add(stamp_ns, stacked[row], choice[row], radius[row])

    def largest_radius_scale(self) -> float:
        """The largest factor on anyone's radius now (1: everyone's is as calibrated)."""
        return max((float(p.radius_scale.max()) for p in self.people.values()), default=1.0)

    def radius_scales(self, track_ids) -> np.ndarray:
        """(B, H) what each person's published radius is multiplied by (1: as calibrated)."""
        return np.stack([self.people[t].radius_scale if t in self.people
                         else np.ones(len(self.horizons_ns)) for t in track_ids])

    def merge(self, forecasts: list[ForecastBatch], choice: np.ndarray) -> ForecastBatch:
        """One forecast from the chosen forecaster per person and horizon. Where a baseline
        is chosen, radius and sigma are the larger of its own and the model's: the model's
        calibration does not hold for motion it is beaten on, and the baselines' Gaussian
        radius is no calibration either."""
        model = forecasts[0]
        positions = model.positions.copy()
        sigma = model.uncertainty_m.copy()
        radius = None if model.radius_m is None else model.radius_m.copy()
        rows_with_baseline = (choice > 0).any(axis=1)
        self.forecasts_with_baseline += int(rows_with_baseline.sum())
        for index in range(1, len(forecasts)):
            rows, horizons = np.nonzero(choice == index)
            self.horizons_by_candidate[index] += rows.size
            if not rows.size:
                continue
            other = forecasts[index]
            positions[rows, horizons] = other.positions[rows, horizons]
            sigma[rows, horizons] = np.maximum(sigma[rows, horizons],
                                               other.uncertainty_m[rows, horizons])
            if radius is not None and other.radius_m is not None:
                radius[rows, horizons] = np.maximum(radius[rows, horizons],
                                                    other.radius_m[rows, horizons])
        return ForecastBatch(positions, sigma, radius, model.coverage)

    def describe(self, choice_row: np.ndarray, horizons_s) -> str:
        """``nermo`` or e.g. ``nermo; constant_velocity at 0.08, 0.16 s`` for one person."""
        parts = [self.candidates[0]]
        for index in range(1, len(self.candidates)):
            at = [f"{h:g}" for h, c in zip(horizons_s, choice_row) if c == index]
            if at:
                parts.append(f"{self.candidates[index]} at {', '.join(at)} s")
        return "; ".join(parts)

    def explain(self, track_id: str, choice_row: np.ndarray, horizons_s) -> str:
        """Which baseline a person's forecast takes where, and the errors that chose it."""
        means = self.mean_errors(track_id)
        reasons = []
        for index in sorted(set(choice_row[choice_row > 0].tolist())):
            at = np.flatnonzero(choice_row == index)
            reasons.append(
                f"{self.candidates[index]} at {', '.join(f'{horizons_s[h]:g}' for h in at)} s "
                f"(lately {1e3 * np.nanmean(means[index, at]):.0f} mm off there, "
                f"{self.candidates[0]} {1e3 * np.nanmean(means[0, at]):.0f} mm)")
        return "; ".join(reasons)

    def fallbacks_now(self, horizons_s) -> list[str]:
        """One line per person whose latest forecast took a baseline somewhere, with why."""
        return [f"{track_id}: {self.explain(track_id, row, horizons_s)}"
                for track_id, row in sorted(self.latest_choice.items()) if row.any()]


def forecaster_of(predictor: str) -> str:
    """The forecaster a forecast's predictor field names first: ``nermo`` of ``nermo;
    constant_velocity at 0.08 s`` (``TrackRecord.describe``). Whatever horizons a baseline
    took, the forecast is the one that forecaster's node published."""
    return predictor.split(";")[0].strip()


def handover_note(predictors: Counter) -> str | None:
    """How many forecasts took a baseline, and where, from their predictor fields (field ->
    how many forecasts carried it); None when none did."""
    taken: dict[str, Counter] = {}
    mixed = 0
    for name, count in predictors.items():
        for part in name.split(";")[1:]:
            baseline, _, horizons = part.strip().partition(" at ")
            for horizon in horizons.removesuffix(" s").split(", "):
                taken.setdefault(baseline, Counter())[float(horizon)] += count
        mixed += count if ";" in name else 0
    if not mixed:
        return None
    where = "; ".join(f"{baseline} at " + ", ".join(f"{h:g} s {n}x" for h, n in
                                                    sorted(counts.items()))
                      for baseline, counts in taken.items())
    return (f"{mixed} of {sum(predictors.values())} forecasts took a baseline at some horizon "
            f"by the track record: {where}")

def _one_per_horizon(horizons: np.ndarray, target_ns: np.ndarray):
    """Arrivals (indices) in groups with each horizon at most once, oldest target first: the
    decayed sums of one horizon take its arrivals in order. Mostly one group (one arrival per
    horizon and frame); more when frames come further apart than forecasts were made."""
    if np.unique(horizons).size == horizons.size:
        yield np.arange(horizons.size)
        return
    order = np.argsort(target_ns, kind="stable")
    while order.size:
        _, first = np.unique(horizons[order], return_index=True)
        yield order[first]
        order = np.delete(order, first)
