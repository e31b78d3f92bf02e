"""Checks one incoming skeleton before it may enter a window; says why when it may not.

A rejected skeleton never reaches the predictor. Each reason is a short, stable string so
nodes can count drops per reason and report them on /diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nermo_ros.skeleton import JOINT_NAMES, LAYOUT_ID, NUM_JOINTS
from nermo_ros.stamps import NS_PER_S


class Reason:
    """Why an input was dropped (or, for TIME_JUMP_BACKWARDS, why a track was reset)."""

    EMPTY = "empty"
    UNKNOWN_LAYOUT = "unknown_layout"
    WRONG_JOINT_COUNT = "wrong_joint_count"
    NON_FINITE = "non_finite"
    BAD_CONFIDENCE = "bad_confidence"
    NO_OBSERVED_JOINTS = "no_observed_joints"
    MISSING_TRACK_ID = "missing_track_id"
    DUPLICATE_TRACK_ID = "duplicate_track_id"
    DUPLICATE_STAMP = "duplicate_stamp"
    OUT_OF_ORDER = "out_of_order"
    STALE_STAMP = "stale_stamp"
    TIME_JUMP_BACKWARDS = "time_jump_backwards"
    TOO_MANY_TRACKS = "too_many_tracks"
    BAD_STAMP = "bad_stamp"
    FUTURE_STAMP = "future_stamp"
    IMPLAUSIBLE_POSITION = "implausible_position"
    IMPLAUSIBLE_SIZE = "implausible_size"
    IMPLAUSIBLE_JUMP = "implausible_jump"  # a track reset, not a drop
    JUMP_HELD = "jump_held"  # a jumped skeleton, held a frame: a glitch or a new body
    PREDICTOR_ERROR = "predictor_error"
    FORECAST_NON_FINITE = "forecast_non_finite"
    FORECAST_IMPLAUSIBLE = "forecast_implausible"


# Reasons that start a track over rather than drop its frame.
RESET_REASONS = frozenset({Reason.TIME_JUMP_BACKWARDS, Reason.IMPLAUSIBLE_JUMP})


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


@dataclass(frozen=True)
class ValidSkeleton:
    """positions_m (J, 3) with unobserved joints set to 0; observed (J,) bool."""

    positions_m: np.ndarray
    observed: np.ndarray


@dataclass(frozen=True)
class BodyLimits:
    """What a person's skeleton can be: joints within ``max_distance_m`` of the frame's origin
    and no more than ``max_body_extent_m`` across along any axis."""

    max_distance_m: float
    max_body_extent_m: float


def validate_skeleton(layout: str, joint_names: Sequence[str], positions: np.ndarray,
                      confidence: np.ndarray, min_confidence: float,
                      limits: BodyLimits) -> ValidSkeleton | Rejection:
    """Check one skeleton's flat arrays against the canonical layout and a body's limits.

    A joint counts as observed when its confidence is above ``min_confidence``; a missing
    joint's position is ignored (it may be NaN), an observed joint's must be finite and
    plausible (finite but huge values would overflow the model into NaN forecasts).
    """
    if positions.size == 0 and confidence.size == 0:
        return Rejection(Reason.EMPTY, "skeleton has no positions and no confidences")
    if layout != LAYOUT_ID:
        return Rejection(Reason.UNKNOWN_LAYOUT,
                         f"layout {layout!r} is not {LAYOUT_ID!r}; map the source to the "
                         f"canonical skeleton (nermo_ros/skeleton.py) before publishing")
    if len(joint_names) and tuple(joint_names) != JOINT_NAMES:
        return Rejection(Reason.UNKNOWN_LAYOUT,
                         f"joint_names {list(joint_names)[:4]}... differ from the {LAYOUT_ID} "
                         f"order; leave joint_names empty or use the canonical order")
    if positions.size != 3 * NUM_JOINTS or confidence.size != NUM_JOINTS:
        return Rejection(Reason.WRONG_JOINT_COUNT,
                         f"got {positions.size} position values and {confidence.size} "
                         f"confidences; {LAYOUT_ID} needs {3 * NUM_JOINTS} and {NUM_JOINTS}")
    if not np.all(np.isfinite(confidence)) or confidence.min() < 0.0 or confidence.max() > 1.0:
        return Rejection(Reason.BAD_CONFIDENCE,
                         f"confidences must be finite and in [0, 1], got range "
                         f"[{np.nanmin(confidence)}, {np.nanmax(confidence)}]")
    observed = confidence > min_confidence
    if not observed.any():
        return Rejection(Reason.NO_OBSERVED_JOINTS,
                         f"no joint has confidence above {min_confidence}")
    xyz = positions.reshape(NUM_JOINTS, 3)
    finite = np.isfinite(xyz).all(axis=1)
    if not finite[observed].all():
        bad = [JOINT_NAMES[j] for j in np.flatnonzero(observed & ~finite)]
        return Rejection(Reason.NON_FINITE, f"observed joints {bad} have NaN/inf positions")
    seen = xyz[observed].astype(np.float64)
    distance_m = np.abs(seen).max()
    if distance_m > limits.max_distance_m:
        return Rejection(Reason.IMPLAUSIBLE_POSITION,
                         f"a joint is {distance_m:.3g} m from the frame origin, more than "
                         f"max_distance_m={limits.max_distance_m}; check the units (metres) "
                         f"and the frame")
    extent_m = (seen.max(axis=0) - seen.min(axis=0)).max()
    if extent_m > limits.max_body_extent_m:
        return Rejection(Reason.IMPLAUSIBLE_SIZE,
                         f"the skeleton is {extent_m:.3g} m across, more than "
                         f"max_body_extent_m={limits.max_body_extent_m}; check the units "
                         f"(metres) and the joint order")
    return ValidSkeleton(np.where(observed[:, None], xyz, 0.0), observed)


def stamp_ns(sec: int, nanosec: int) -> int | Rejection:
    """A header stamp as integer nanoseconds, or a Rejection if its fields are malformed."""
    if not 0 <= nanosec < NS_PER_S:
        return Rejection(Reason.BAD_STAMP, f"stamp nanosec={nanosec} is outside [0, 1e9); "
                                           f"carry whole seconds into sec")
    return int(sec) * NS_PER_S + int(nanosec)


def check_stamp_against_clock(stamp_ns: int, now_ns: int, max_age_s: float,
                              max_ahead_s: float) -> Rejection | None:
    """A frame older than ``max_age_s`` or further than ``max_ahead_s`` ahead of the clock
    is refused (0 disables either check)."""
    age_s = (now_ns - stamp_ns) * 1e-9
    if max_age_s > 0 and age_s > max_age_s:
        return Rejection(Reason.STALE_STAMP,
                         f"frame stamp is {age_s:.3f} s old, more than max_stamp_age_s="
                         f"{max_age_s}; check clocks (use_sim_time for bag replay) or raise it")
    if max_ahead_s > 0 and -age_s > max_ahead_s:
        return Rejection(Reason.FUTURE_STAMP,
                         f"frame stamp is {-age_s:.3f} s ahead of the clock, more than "
                         f"max_stamp_ahead_s={max_ahead_s}; check the sender's clock")
    return None
