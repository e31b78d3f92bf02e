"""Skeleton and forecast messages <-> numpy arrays, without Python loops over joints.

float32[] fields are ``array.array('f')`` in rclpy; reading wraps their buffer with
``np.frombuffer`` (no copy) and writing hands rclpy an ``array.array`` built from the bytes,
which skips rclpy's per-element type checks.
"""

from __future__ import annotations

import array
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from builtin_interfaces.msg import Time

from nermo_ros.forecasting.records import ForecastRecord
from nermo_ros.msg import HumanForecast, HumanForecastArray, Skeleton3D, Skeleton3DArray
from nermo_ros.predictors.base import ForecastBatch
from nermo_ros.skeleton import LAYOUT_ID, NUM_JOINTS
from nermo_ros.stamps import sec_nanosec, stamp_to_ns

__all__ = ["stamp_to_ns", "ns_to_stamp", "people_arrays", "skeleton_array_msg",
           "forecast_array_msg", "forecast_arrays"]


def ns_to_stamp(stamp_ns: int) -> Time:
    sec, nanosec = sec_nanosec(stamp_ns)
    return Time(sec=sec, nanosec=nanosec)


def float32_field(values: np.ndarray) -> array.array:
    """An ndarray as the array.array('f') rclpy stores float32[] fields in."""
    field = array.array("f")
    field.frombytes(np.ascontiguousarray(values, dtype=np.float32).tobytes())
    return field


def skeleton_fields(msg: Skeleton3D) -> tuple[np.ndarray, np.ndarray]:
    """Flat float32 views of a skeleton's positions and confidences (no copy)."""
    return (np.frombuffer(msg.positions, dtype=np.float32),
            np.frombuffer(msg.confidence, dtype=np.float32))


@dataclass(frozen=True)
class PersonArrays:
    """A Skeleton3D's fields with numpy views of its arrays (a tracking.intake.PersonInput)."""

    track_id: str
    layout: str
    joint_names: Sequence[str]
    positions: np.ndarray
    confidence: np.ndarray


def people_arrays(msg: Skeleton3DArray) -> list[PersonArrays]:
    """Every skeleton of a frame as arrays (no copy of the position data)."""
    return [PersonArrays(s.track_id, s.layout, s.joint_names, *skeleton_fields(s))
            for s in msg.skeletons]


def skeleton_msg(header, track_id: str, positions_m: np.ndarray,
                 confidence: np.ndarray) -> Skeleton3D:
    """A canonical-layout Skeleton3D from (J, 3) positions and (J,) confidences."""
    return Skeleton3D(header=header, track_id=track_id, layout=LAYOUT_ID,
                      positions=float32_field(positions_m.reshape(-1)),
                      confidence=float32_field(confidence))


def skeleton_array_msg(header, people: dict[str, tuple[np.ndarray, np.ndarray]]
                       ) -> Skeleton3DArray:
    """All people of one frame: track id -> (positions (J, 3), confidence (J,))."""
    return Skeleton3DArray(header=header, skeletons=[
        skeleton_msg(header, track_id, positions, confidence)
        for track_id, (positions, confidence) in people.items()])


def forecast_array_msg(header, track_ids: Sequence[str], forecast: ForecastBatch | None,
                       horizons_s: np.ndarray, predictor: str | Sequence[str], model_id: str
                       ) -> HumanForecastArray:
    """One HumanForecast per track (row of ``forecast``); stamps are the input frame's.
    ``predictor``: one name for every row, or one per row."""
    msg = HumanForecastArray(header=header)
    if forecast is None or not len(track_ids):
        return msg
    names = [predictor] * len(track_ids) if isinstance(predictor, str) else list(predictor)
    offsets = float32_field(horizons_s)
    radius = forecast.radius_m
    for row, track_id in enumerate(track_ids):
        msg.forecasts.append(HumanForecast(
            header=header, track_id=track_id, layout=LAYOUT_ID, time_offsets_s=offsets,
            positions=float32_field(forecast.positions[row].reshape(-1)),
            uncertainty_m=float32_field(forecast.uncertainty_m[row].reshape(-1)),
            radius_m=float32_field(radius[row].reshape(-1) if radius is not None else ()),
            coverage=float(forecast.coverage), predictor=names[row], model_id=model_id))
    return msg


def forecast_arrays(msg: HumanForecast) -> ForecastRecord:
    """A HumanForecast as arrays (views of the message); ValueError if its lengths disagree.
    An empty radius_m gives ``radius_m`` None."""
    offsets = np.frombuffer(msg.time_offsets_s, dtype=np.float32)
    positions = np.frombuffer(msg.positions, dtype=np.float32)
    uncertainty = np.frombuffer(msg.uncertainty_m, dtype=np.float32)
    radius = np.frombuffer(msg.radius_m, dtype=np.float32)
    horizons = offsets.size
    if (positions.size != horizons * NUM_JOINTS * 3 or uncertainty.size != horizons * NUM_JOINTS
            or radius.size not in (0, horizons * NUM_JOINTS)):
        raise ValueError(f"forecast for {msg.track_id!r} has {horizons} offsets but "
                         f"{positions.size} positions, {uncertainty.size} uncertainties and "
                         f"{radius.size} radii")
    return ForecastRecord(msg.track_id, stamp_to_ns(msg.header.stamp), offsets,
                          positions.reshape(horizons, NUM_JOINTS, 3),
                          uncertainty.reshape(horizons, NUM_JOINTS), msg.predictor, msg.model_id,
                          radius_m=radius.reshape(horizons, NUM_JOINTS) if radius.size else None,
                          coverage=float(msg.coverage))
