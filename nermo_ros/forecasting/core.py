"""One frame of skeletons in, the forecasts to publish out: the predictor's whole per-frame logic.

validate (stamp, ids, layout, values, body limits) -> track (expire, evict, reset on a jump
back in time or of the body) -> window -> predict every ready person in one batch -> check the
output -> count every event by reason. The predictor node only turns messages into arrays,
calls ``ForecastCore.process`` and publishes; offline bag evaluation calls the same method on
recorded frames, so a bag gives the same forecasts live and offline.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from nermo_ros.forecasting.calibration import gaussian_radius_factor
from nermo_ros.forecasting.output_check import forecast_problems
from nermo_ros.forecasting.settings import PredictorSettings
from nermo_ros.forecasting.track_record import TrackRecord, TrackRecordSettings
from nermo_ros.forecasting.view_level import ViewLevel, turn_back, turn_batch
from nermo_ros.predictors.base import ForecastBatch, Predictor
from nermo_ros.predictors.baselines import BOTH_BASELINES, both_baselines
from nermo_ros.tracking.tracker import Accepted, Tracker
from nermo_ros.tracking.validation import (BodyLimits, Reason, Rejection,
                                           check_stamp_against_clock, validate_skeleton)

# Track events that are not drops; counted beside the drop reasons.
TRACK_EXPIRED = "track_expired"  # unseen for track_timeout_s (or far from a jumped clock)
TRACK_EVICTED = "track_evicted"  # its slot went to a new person (max_tracks)
# A person's forecast took a baseline at some horizon, where it had not the frame before.
TRACK_RECORD_FALLBACK = "track_record_fallback"
WITHHELD = frozenset({Reason.FORECAST_NON_FINITE, Reason.FORECAST_IMPLAUSIBLE,
                      Reason.PREDICTOR_ERROR})
# What a failing predictor raises: bad shapes or values, a runtime's error. Anything else is
# a bug that should stop the node (launch respawns it) rather than be swallowed per frame.
PREDICTOR_FAILURES = (ValueError, RuntimeError, ArithmeticError)


class PersonInput(Protocol):
    """One skeleton as flat arrays (a Skeleton3D message's fields, as numpy)."""

    track_id: str
    layout: str
    joint_names: Sequence[str]
    positions: np.ndarray  # (3 J,) metres, joint-major
    confidence: np.ndarray  # (J,)


@dataclass
class FrameResult:
    """What one frame produced. ``answered``: publish a forecast array for this frame (empty
    when nobody is ready); False when every skeleton of a non-empty frame was refused, the
    frame itself was, or the predictor failed. ``forecast`` rows follow ``track_ids``; a
    person whose forecast failed the output check is left out (and counted)."""

    stamp_ns: int
    answered: bool = False
    track_ids: list[str] = field(default_factory=list)
    forecast: ForecastBatch | None = None
    # per row, which forecaster made it ("nermo; constant_velocity at 0.08 s"); empty: the
    # predictor's name for every row
    predictor_names: list[str] = field(default_factory=list)
    events: list[Rejection] = field(default_factory=list)  # every counted event, with detail
    predictor_s: float = 0.0  # time inside predictor.predict (0 when not called)


class ForecastCore:
    """Windows per track and one batch forecast per frame, with every event counted."""

    def __init__(self, predictor: Predictor, settings: PredictorSettings):
        self.predictor = predictor
        self.settings = settings
        self.horizons_s = np.asarray(settings.horizons_s, dtype=np.float64)
        # The input's own error (1 or J values) and, read as a Gaussian's radius, its sigma.
        self.input_error_m = np.asarray(settings.input_error_m, dtype=np.float32)
        self.input_sigma_m = self.input_error_m / gaussian_radius_factor(settings.coverage)
        self.tracker = Tracker(settings.tracker_settings())
        self.limits = BodyLimits(settings.max_distance_m, settings.max_body_extent_m)
        self.counts: Counter = Counter()  # event reason -> how many, since start
        self.track_record = _track_record_for(predictor, settings)
        # The view's tilt is estimated always (for /diagnostics), taken away with level_view.
        self.view = ViewLevel(settings.view_level_settings())
        self.frames_in = self.frames_answered = self.forecasts_out = 0

    def refuse(self, rejection: Rejection, result: FrameResult | None = None) -> None:
        """Count an event found outside ``process`` (e.g. a malformed stamp in a message)."""
        self.counts[rejection.reason] += 1
        if result is not None:
            result.events.append(rejection)

    def process(self, stamp_ns: int, people: Sequence[PersonInput],
                now_ns: int | None = None) -> FrameResult:
        """Apply one frame; ``now_ns`` is the clock to check the stamp against (None: none)."""
        self.frames_in += 1
        result = FrameResult(stamp_ns)
        if now_ns is not None:
            stale = check_stamp_against_clock(stamp_ns, now_ns, self.settings.max_stamp_age_s,
                                              self.settings.max_stamp_ahead_s)
            if stale is not None:
                self.refuse(stale, result)
                return result
        ready, accepted = self._take(stamp_ns, people, result)
        self._see_view(stamp_ns, people)
        if self.track_record is not None:
            self.track_record.score(stamp_ns, self.tracker.windows)
        if people and not accepted:
            return result  # every skeleton was bad: no answer rather than "nobody is there"
        result.answered = self._predict(ready, result) if ready else True
        self.frames_answered += result.answered
        self.forecasts_out += len(result.track_ids)
        return result

    def _take(self, stamp_ns: int, people: Sequence[PersonInput],
              result: FrameResult) -> tuple[list[str], int]:
        """Expire, validate and push everyone; return the tracks ready to forecast."""
        in_frame = {p.track_id for p in people}
        for track_id in self.tracker.expire(stamp_ns, keep=in_frame):
            self._forget(track_id, TRACK_EXPIRED, "unseen for track_timeout_s", result)
        seen: set[str] = set()
        ready, accepted = [], 0
        for person in people:
            pushed = self._push(person, stamp_ns, seen, in_frame)
            if isinstance(pushed, Rejection):
                self.refuse(pushed, result)
                continue
            accepted += 1
            track_id = person.track_id
            if pushed.evicted:
                self._forget(pushed.evicted, TRACK_EVICTED,
                             f"its slot went to {track_id!r} (max_tracks="
                             f"{self.settings.max_tracks})", result)
            if pushed.reset:
                self.predictor.reset_track(track_id)
                if self.track_record is not None:
                    self.track_record.forget(track_id)
                self.refuse(Rejection(pushed.reset, f"track {track_id!r} started over "
                                      f"({pushed.reset.replace('_', ' ')})"), result)
            if self.tracker.num_frames(track_id) >= self.settings.min_frames:
                ready.append(track_id)
        return ready, accepted

    def _push(self, person: PersonInput, stamp_ns: int, seen: set[str],
              in_frame: set[str]) -> Accepted | Rejection:
        track_id = person.track_id
        if not track_id:
            return Rejection(Reason.MISSING_TRACK_ID, "a skeleton has an empty track_id; give "
                                                      "every person a stable id (e.g. body_0)")
        if track_id in seen:
            return Rejection(Reason.DUPLICATE_TRACK_ID, f"track {track_id!r} appears twice in "
                                                        f"one frame; the first one was used")
        seen.add(track_id)
        valid = validate_skeleton(person.layout, person.joint_names, person.positions,
                                  person.confidence, self.settings.min_joint_confidence,
                                  self.limits)
        if isinstance(valid, Rejection):
            return valid
        return self.tracker.push(track_id, stamp_ns, valid.positions_m, valid.observed,
                                 keep=in_frame)

    def _see_view(self, stamp_ns: int, people: Sequence[PersonInput]) -> None:
        """The newest frame of everyone accepted in this frame, into the view's tilt."""
        windows = self.tracker.windows
        fresh = [windows[p.track_id] for p in people if p.track_id in windows
                 and windows[p.track_id].newest_ns == stamp_ns]
        if fresh:
            self.view.update(stamp_ns, np.stack([w.positions_m[-1] for w in fresh]),
                             np.stack([w.observed[-1] for w in fresh]))

    def _forget(self, track_id: str, kind: str, why: str, result: FrameResult) -> None:
        self.predictor.reset_track(track_id)
        if self.track_record is not None:
            self.track_record.forget(track_id)
        self.refuse(Rejection(kind, f"track {track_id!r} forgotten: {why}"), result)

    def _predict(self, ready: list[str], result: FrameResult) -> bool:
        """Forecast ``ready`` into ``result``; False if the predictor failed (no answer: an
        empty array would say that nobody is there)."""
        batch = self.tracker.batch(ready)
        turn = self.view.turn() if self.settings.level_view else None
        started_s = time.perf_counter()
        try:
            if turn is None:
                forecast = self.predictor.predict(batch, self.horizons_s)
            else:  # the model sees the view level; the forecast goes back to the input's frame
                forecast = turn_back(self.predictor.predict(turn_batch(batch, turn),
                                                            self.horizons_s), turn)
        except PREDICTOR_FAILURES as error:
            for track_id in ready:
                self.predictor.reset_track(track_id)
            self.counts[Reason.PREDICTOR_ERROR] += len(ready)
            result.events.append(Rejection(Reason.PREDICTOR_ERROR,
                                           f"{self.predictor.name} failed: "
                                           f"{type(error).__name__}: {error}"))
            return False
        finally:
            result.predictor_s = time.perf_counter() - started_s
        problems = forecast_problems(forecast, batch, self.horizons_s,
                                     self.settings.max_joint_speed_mps)
        keep = [row for row, (reason, _) in enumerate(problems) if not reason]
        for row, (reason, detail) in enumerate(problems):
            if reason:
                self.predictor.reset_track(ready[row])
                self.refuse(Rejection(reason, detail), result)
        if len(keep) < len(ready):
            forecast = forecast.rows(keep)
        result.track_ids = [ready[row] for row in keep]
        if self.track_record is None or not keep:
            result.forecast = self._with_input_error(forecast)
            return True
        candidates, choice = self._choose_by_track_record(batch, keep, forecast, result)
        published = self._with_input_error(self.track_record.merge(candidates, choice))
        self.track_record.remember(result.stamp_ns, result.track_ids, candidates, choice,
                                   published)
        result.forecast = published.with_radius_scale(
            self.track_record.radius_scales(result.track_ids))
        return True

    def _with_input_error(self, forecast: ForecastBatch) -> ForecastBatch:
        if not self.input_error_m.any():
            return forecast
        return forecast.with_input_error(self.input_error_m, self.input_sigma_m)

    def _choose_by_track_record(self, batch, keep: list[int], forecast: ForecastBatch,
                                result: FrameResult) -> tuple[list[ForecastBatch], np.ndarray]:
        """Every candidate's forecast, and per person and horizon the one with the better
        track record (index into the candidates); names and logs what was chosen."""
        record = self.track_record
        candidates = [forecast] + [baseline.rows(keep) for baseline in both_baselines(
            batch, self.horizons_s, self.settings.coverage)]
        before = {track_id: record.latest_choice.get(track_id) for track_id in result.track_ids}
        choice = record.choose(result.track_ids)
        result.predictor_names = [record.describe(row, self.horizons_s) for row in choice]
        for track_id, row in zip(result.track_ids, choice):
            newly = (row > 0) if before[track_id] is None else (row > 0) & (before[track_id] == 0)
            if newly.any():
                self.refuse(Rejection(TRACK_RECORD_FALLBACK, f"track {track_id!r}: "
                                      f"{record.explain(track_id, row, self.horizons_s)}"),
                            result)
        return candidates, choice


def _track_record_for(predictor: Predictor, settings: PredictorSettings) -> TrackRecord | None:
    """The track record of a learned predictor against both baselines (None: ``track_record``
    off, or the predictor is a baseline itself)."""
    if not settings.track_record or predictor.name in BOTH_BASELINES:
        return None
    return TrackRecord((predictor.name, *BOTH_BASELINES), settings.horizons_s,
                       TrackRecordSettings(settings.track_record_half_life_s,
                                           settings.track_record_margin,
                                           settings.track_record_min_scored,
                                           radius_rate=settings.track_record_radius_rate,
                                           coverage=settings.coverage))
