"""Bag messages (rosbags classes) <-> plain arrays, for skeleton frames and forecasts.

Besides the project's Skeleton3DArray, two message types users already record are read as
skeleton streams, with the joints in a stated order:

- ``geometry_msgs/PoseArray``: the pose positions are the joints, 17 per person in the
  canonical order (nermo_ros/skeleton.py JOINT_NAMES) or 33 per person in MediaPipe Pose
  landmark order; orientations are ignored. People are ``<topic>_<k>`` in order.
- ``visualization_msgs/MarkerArray``: each ADD marker with 17 (canonical) or 33 (MediaPipe)
  points is one person, tracked as ``<ns>_<id>``; other markers are ignored. The frame's
  stamp is the newest stamp of those markers.
A NaN point is a missing joint (confidence 0); every other joint has confidence 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.bag import types as T
from nermo_ros.forecasting.records import ForecastRecord
from nermo_ros.skeleton import (LAYOUT_ID, MEDIAPIPE_TO_CANONICAL, NUM_JOINTS,
                                NUM_MEDIAPIPE_LANDMARKS, map_confidence, map_positions)
from nermo_ros.stamps import sec_nanosec, stamp_to_ns

SKELETON_TYPES = (T.SKELETON_ARRAY, T.POSE_ARRAY, T.MARKER_ARRAY)


@dataclass(frozen=True)
class Person:
    """One skeleton as sent: layout and names as in the message, flat float32 arrays."""

    track_id: str
    positions: np.ndarray  # (3 * J,) metres
    confidence: np.ndarray  # (J,)
    layout: str = LAYOUT_ID
    joint_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkeletonFrame:
    """Everyone of one frame: capture stamp, frame id, people, and when the bag logged it."""

    stamp_ns: int
    frame_id: str
    people: tuple[Person, ...]
    log_ns: int = 0


def header(stamp_ns: int, frame_id: str):
    sec, nanosec = sec_nanosec(stamp_ns)
    time = T.message_type("builtin_interfaces/msg/Time")(sec=sec, nanosec=nanosec)
    return T.message_type("std_msgs/msg/Header")(stamp=time, frame_id=frame_id)


def skeleton_array(frame: SkeletonFrame):
    """A Skeleton3DArray message of one frame."""
    head = header(frame.stamp_ns, frame.frame_id)
    skeleton = T.message_type(T.SKELETON)
    return T.message_type(T.SKELETON_ARRAY)(header=head, skeletons=[
        skeleton(header=head, track_id=p.track_id, layout=p.layout,
                 joint_names=list(p.joint_names),
                 positions=np.asarray(p.positions, dtype=np.float32).reshape(-1),
                 confidence=np.asarray(p.confidence, dtype=np.float32).reshape(-1))
        for p in frame.people])


def forecast_array(stamp_ns: int, frame_id: str, records: list[ForecastRecord]):
    """A HumanForecastArray message of the forecasts made from one frame."""
    head = header(stamp_ns, frame_id)
    forecast = T.message_type(T.FORECAST)
    return T.message_type(T.FORECAST_ARRAY)(header=head, forecasts=[
        forecast(header=head, track_id=r.track_id, layout=LAYOUT_ID,
                 time_offsets_s=np.asarray(r.time_offsets_s, dtype=np.float32),
                 positions=np.asarray(r.positions_m, dtype=np.float32).reshape(-1),
                 uncertainty_m=np.asarray(r.uncertainty_m, dtype=np.float32).reshape(-1),
                 radius_m=np.asarray(() if r.radius_m is None else r.radius_m,
                                     dtype=np.float32).reshape(-1),
                 coverage=float(r.coverage), predictor=r.predictor, model_id=r.model_id)
        for r in records])


def frame_from_message(msg, msgtype: str, topic: str, log_ns: int) -> SkeletonFrame:
    """Any supported skeleton message as a SkeletonFrame; a zero stamp falls back to log time.

    Raises ValueError with the reason when the message cannot be one.
    """
    if msgtype == T.SKELETON_ARRAY:
        people = tuple(Person(s.track_id, np.asarray(s.positions, dtype=np.float32),
                              np.asarray(s.confidence, dtype=np.float32), s.layout,
                              tuple(s.joint_names)) for s in msg.skeletons)
        return SkeletonFrame(stamp_to_ns(msg.header.stamp) or log_ns, msg.header.frame_id, people,
                             log_ns)
    if msgtype == T.POSE_ARRAY:
        points = np.array([[p.position.x, p.position.y, p.position.z] for p in msg.poses])
        people = tuple(_person(f"{topic.strip('/').replace('/', '_')}_{k}", pts)
                       for k, pts in enumerate(_split_people(points, topic)))
        return SkeletonFrame(stamp_to_ns(msg.header.stamp) or log_ns, msg.header.frame_id, people,
                             log_ns)
    if msgtype == T.MARKER_ARRAY:
        people, stamp_ns, frame_id = [], 0, ""
        for marker in msg.markers:
            if marker.action != 0 or len(marker.points) not in (NUM_JOINTS,
                                                                NUM_MEDIAPIPE_LANDMARKS):
                continue
            pts = np.array([[p.x, p.y, p.z] for p in marker.points])
            people.append(_person(f"{marker.ns}_{marker.id}" if marker.ns else str(marker.id),
                                  pts))
            stamp_ns = max(stamp_ns, stamp_to_ns(marker.header.stamp))
            frame_id = frame_id or marker.header.frame_id
        return SkeletonFrame(stamp_ns or log_ns, frame_id, tuple(people), log_ns)
    raise ValueError(f"{topic}: type {msgtype} is not a skeleton stream; use one of "
                     f"{', '.join(SKELETON_TYPES)}")


def _split_people(points: np.ndarray, topic: str) -> list[np.ndarray]:
    for size in (NUM_JOINTS, NUM_MEDIAPIPE_LANDMARKS):
        if len(points) and len(points) % size == 0:
            return list(points.reshape(-1, size, 3))
    if not len(points):
        return []
    raise ValueError(f"{topic}: a PoseArray of {len(points)} poses is not people of "
                     f"{NUM_JOINTS} canonical joints or {NUM_MEDIAPIPE_LANDMARKS} MediaPipe "
                     f"landmarks")


def _person(track_id: str, points: np.ndarray) -> Person:
    """17 canonical or 33 MediaPipe points -> a canonical Person; NaN marks missing joints."""
    confidence = np.isfinite(points).all(axis=1).astype(np.float32)
    if len(points) == NUM_MEDIAPIPE_LANDMARKS:
        confidence = map_confidence(MEDIAPIPE_TO_CANONICAL, confidence)
        points = map_positions(MEDIAPIPE_TO_CANONICAL, np.nan_to_num(points))
    return Person(track_id, np.nan_to_num(points).astype(np.float32).reshape(-1),
                  confidence.astype(np.float32))


def forecast_records(msg) -> list[ForecastRecord]:
    """HumanForecastArray -> records; a forecast whose lengths disagree raises ValueError."""
    records = []
    for f in msg.forecasts:
        offsets = np.asarray(f.time_offsets_s, dtype=np.float64)
        h = offsets.size
        pos = np.asarray(f.positions, dtype=np.float32)
        unc = np.asarray(f.uncertainty_m, dtype=np.float32)
        radius = np.asarray(f.radius_m, dtype=np.float32)
        if f.layout not in ("", LAYOUT_ID) or pos.size != h * NUM_JOINTS * 3 \
                or unc.size != h * NUM_JOINTS or radius.size not in (0, h * NUM_JOINTS):
            raise ValueError(f"forecast for {f.track_id!r} (layout {f.layout!r}) has {h} "
                             f"offsets, {pos.size} positions, {unc.size} uncertainties and "
                             f"{radius.size} radii; expected {LAYOUT_ID} with {NUM_JOINTS} "
                             f"joints")
        records.append(ForecastRecord(f.track_id, stamp_to_ns(f.header.stamp), offsets,
                                      pos.reshape(h, NUM_JOINTS, 3),
                                      unc.reshape(h, NUM_JOINTS), f.predictor, f.model_id,
                                      radius_m=radius.reshape(h, NUM_JOINTS) if radius.size
                                      else None, coverage=float(f.coverage)))
    return records
