"""`nermo-ros bag evaluate`, offline: read the bag, run the predictor as the node would, score.

The live mode (nermo_ros/bag/live.py) replays the same bag through the real predictor
node over DDS and scores what comes back with the same functions, so both modes report the
same numbers for a deterministic predictor.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from nermo_ros.bag.checks import check_stream
from nermo_ros.bag.io import DEFAULT_STORAGE, BagReadReport, BagWriter, read_skeleton_frames
from nermo_ros.bag.messages import (SKELETON_TYPES, ForecastRecord, SkeletonFrame,
                                    forecast_array, skeleton_array)
from nermo_ros.bag.metrics import ground_truth, score
from nermo_ros.bag.offline import node_params, run_offline
from nermo_ros.bag.report import Evaluation
from nermo_ros.forecasting.core import (TRACK_EVICTED, TRACK_EXPIRED, TRACK_RECORD_FALLBACK,
                                        WITHHELD)
from nermo_ros.forecasting.settings import PredictorSettings, settings_from
from nermo_ros.forecasting.track_record import forecaster_of, handover_note
from nermo_ros.forecasting.truth import SCORING_MAX_GAP_S
from nermo_ros.predictors.factory import make_predictor_from_params
from nermo_ros.tracking.validation import BodyLimits, Reason

FORECAST_TOPIC = "/human_forecast"
MARKERS_TOPIC = "/human_forecast/markers"


@dataclass(frozen=True)
class EvaluationInput:
    """The recorded frames, what reading them reported, and the node settings to run with."""

    bag: str
    topic: str
    frames: list[SkeletonFrame]
    notes: list[str]
    settings: PredictorSettings
    bag_health: dict | None = None  # what reading recovered and lost (BagReadReport.health)


def load_input(bag: str | Path, topic: str | None = None, config: str | Path | None = None,
               overrides: Mapping[str, Any] | None = None) -> EvaluationInput:
    """Frames of the bag's skeleton stream, its health notes and the predictor settings."""
    from nermo_ros.bag.io import bag_topics, pick_skeleton_topic

    topic = pick_skeleton_topic(bag_topics(bag), topic)
    frames, read_report = read_skeleton_frames(bag, topic)
    if not frames:
        raise ValueError(f"{bag}: no readable skeleton frames on {topic}; "
                         + " ".join(read_report.lines()))
    settings = settings_from({**node_params(config), **(overrides or {})})
    return EvaluationInput(str(bag), topic, frames, _notes(frames, read_report), settings,
                           read_report.health())


def _notes(frames: list[SkeletonFrame], read_report: BagReadReport) -> list[str]:
    check = check_stream([f.stamp_ns for f in frames], sum(not f.people for f in frames))
    notes = check.lines()
    if read_report.undecodable or read_report.damaged:
        notes += read_report.lines()[1:]
    return notes


def score_run(data: EvaluationInput, records: list[ForecastRecord], latency_s: list[float],
              mode: str, predictor: str, latency_kind: str,
              max_gap_s: float = SCORING_MAX_GAP_S,
              extra_notes: list[str] | None = None) -> Evaluation:
    settings = data.settings
    truth = ground_truth(data.frames, settings.min_joint_confidence,
                         BodyLimits(settings.max_distance_m, settings.max_body_extent_m))
    notes = list(data.notes) + list(extra_notes or [])
    if truth.invalid:
        notes.append(f"{truth.invalid} recorded skeletons failed validation and are not ground "
                     "truth (wrong layout, joint count or non-finite values)")
    return Evaluation(data.bag, data.topic, mode, predictor, score(records, truth, max_gap_s),
                      latency_s, latency_kind, notes, bag_health=data.bag_health)


def evaluate_recorded(data: EvaluationInput, forecasts_bag: str | Path,
                      max_gap_s: float = SCORING_MAX_GAP_S
                      ) -> tuple[Evaluation, list[ForecastRecord]]:
    """Score forecasts recorded in a bag (e.g. `nermo-ros bag record` of a robot's run).

    When that bag also recorded the skeleton topic, latency is the time from a frame's
    arrival at the recorder to the arrival of its forecast.
    """
    from nermo_ros.bag.io import bag_topics, read_forecasts

    records, read_report = read_forecasts(forecasts_bag)
    latency_s: list[float] = []
    kind = "not measured (the forecast bag has no skeleton topic)"
    if any(m in SKELETON_TYPES for m in bag_topics(forecasts_bag).values()):
        inputs, _ = read_skeleton_frames(forecasts_bag)
        arrived = {f.stamp_ns: f.log_ns for f in inputs}
        answered = {r.stamp_ns: r.log_ns for r in records}
        latency_s = [(log - arrived[s]) * 1e-9 for s, log in answered.items() if s in arrived]
        kind = "recorded: frame received -> its forecast received, by the recorder's clock"
    name = forecaster_of(records[0].predictor) if records else "recorded"
    return score_run(data, records, latency_s, "recorded", name, kind, max_gap_s,
                     read_report.lines()[1:] + track_record_notes(records)), records


def evaluate_offline(data: EvaluationInput, max_gap_s: float = SCORING_MAX_GAP_S
                     ) -> tuple[Evaluation, list[ForecastRecord]]:
    """Deterministic: the same bag and predictor give the same numbers (latency aside)."""
    predictor = make_predictor_from_params(data.settings.as_params())
    run = run_offline(data.frames, predictor, data.settings)
    extra = event_notes(run.counts) + track_record_notes(run.records)
    if run.first_error:
        extra.append(f"the predictor failed; first error: {run.first_error}")
    evaluation = score_run(data, run.records, run.frame_latency_s, "offline", predictor.name,
                           "per-frame processing time (validate, window, predict)", max_gap_s,
                           extra)
    return evaluation, run.records


def track_record_notes(records: list[ForecastRecord]) -> list[str]:
    """How many forecasts took a baseline, and where (``track_record.handover_note``)."""
    note = handover_note(Counter(r.predictor for r in records))
    return [note] if note else []


def event_notes(counts) -> list[str]:
    """One line per kind of event the core counted (drops, withheld forecasts, restarts)."""
    notes = []
    for reason, n in sorted(counts.items()):
        if reason == Reason.TIME_JUMP_BACKWARDS:
            notes.append(f"{n} track restarts after backward time jumps")
        elif reason == Reason.IMPLAUSIBLE_JUMP:
            notes.append(f"{n} track restarts after a body moved faster than "
                         f"max_joint_speed_mps and stayed there")
        elif reason == Reason.JUMP_HELD:
            notes.append(f"{n} skeletons held back a frame after moving faster than "
                         f"max_joint_speed_mps (not forecast; a glitch left out unless the "
                         f"next frame confirmed it: then a restart)")
        elif reason == TRACK_EXPIRED:
            notes.append(f"{n} tracks forgotten (unseen for track_timeout_s, or left behind by "
                         "a time jump); they start over when seen again")
        elif reason == TRACK_EVICTED:
            notes.append(f"{n} tracks evicted for new people (max_tracks)")
        elif reason == TRACK_RECORD_FALLBACK:
            notes.append(f"{n} times a person's forecast newly took a baseline at some horizon "
                         f"(track_record)")
        elif reason in WITHHELD:
            notes.append(f"withheld {n} forecasts: {reason}")
        elif reason == Reason.STALE_STAMP:
            notes.append(f"dropped {n} skeletons: {reason} (stamped more than max_stamp_age_s "
                         f"before the recorder received them, as the node would have seen them; "
                         f"a recording of a video read frame by frame lags so: --set "
                         f"max_stamp_age_s=0)")
        else:
            notes.append(f"dropped {n} skeletons: {reason}")
    return notes


def write_forecast_bag(path: str | Path, data: EvaluationInput, records: list[ForecastRecord],
                       storage: str = DEFAULT_STORAGE) -> list[str]:
    """The recorded skeletons, the forecasts and (where rclpy is installed) RViz markers."""
    by_stamp: dict[int, list[ForecastRecord]] = {}
    for record in records:
        by_stamp.setdefault(record.stamp_ns, []).append(record)
    notes: list[str] = []
    markers = _marker_builder(notes)
    with BagWriter(path, storage) as writer:
        for frame in data.frames:
            writer.write(data.topic, frame.log_ns or frame.stamp_ns, skeleton_array(frame))
            group = by_stamp.pop(frame.stamp_ns, None)
            if not group:
                continue
            log_ns = frame.log_ns or frame.stamp_ns
            writer.write(FORECAST_TOPIC, log_ns,
                         forecast_array(frame.stamp_ns, frame.frame_id, group))
            if markers is not None:
                writer.write_raw(MARKERS_TOPIC, "visualization_msgs/msg/MarkerArray", log_ns,
                                 markers(frame, group))
    return notes


def _marker_builder(notes: list[str]):
    """A function making serialised MarkerArray bytes with the node's marker code, or None."""
    try:
        import numpy as np
        from rclpy.serialization import serialize_message
        from std_msgs.msg import Header

        from nermo_ros.nodes.markers import skeleton_markers
        from nermo_ros.nodes.msg_convert import ns_to_stamp
    except ImportError as error:
        notes.append(f"markers not written ({error}); the forecasts are")
        return None

    def build(frame: SkeletonFrame, group: list[ForecastRecord]) -> bytes:
        head = Header(stamp=ns_to_stamp(frame.stamp_ns), frame_id=frame.frame_id)
        observed = {p.track_id: (p.positions.reshape(-1, 3), p.confidence > 0)
                    for p in frame.people if p.positions.size == 3 * p.confidence.size}
        predicted = {r.track_id: r.positions_m for r in group}
        horizons = np.asarray(group[0].time_offsets_s, dtype=np.float64)
        return serialize_message(skeleton_markers(head, observed, predicted, horizons,
                                                  lifetime_s=0.2))

    return build
