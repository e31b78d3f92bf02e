"""One input frame into the windows: the per-frame rules every consumer of skeletons shares.

The predictor node and the offline bag evaluation both call ``take_frame``, so a recorded run
and a live run treat every frame alike: first forget people not seen for a while (keeping
those in this frame, whom a jump back in time resets instead), then validate each skeleton
and push it into its window, and finally name the people with enough history to forecast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from nermo_ros.tracking.tracker import Tracker
from nermo_ros.tracking.validation import Reason, Rejection, validate_skeleton


class PersonInput(Protocol):
    """One skeleton as flat arrays (a Skeleton3D message's fields, as numpy)."""

    track_id: str
    layout: str
    joint_names: Sequence[str]
    positions: np.ndarray  # (3 J,) metres, joint-major
    confidence: np.ndarray  # (J,)


@dataclass
class FrameOutcome:
    """What a frame did: ``ready`` tracks are to be forecast now, in this order."""

    accepted: int = 0
    ready: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)  # time jumped back: history dropped
    expired: list[str] = field(default_factory=list)  # not seen for track_timeout_s


def take_frame(tracker: Tracker, stamp_ns: int, people: Sequence[PersonInput],
               min_joint_confidence: float = 0.0, min_frames: int = 1) -> FrameOutcome:
    """Apply one frame of ``people`` stamped ``stamp_ns`` to ``tracker``."""
    outcome = FrameOutcome(expired=tracker.expire(stamp_ns,
                                                  keep={p.track_id for p in people}))
    seen: set[str] = set()
    for person in people:
        if not person.track_id:
            outcome.rejections.append(Rejection(
                Reason.MISSING_TRACK_ID, "a skeleton has an empty track_id; give every "
                                         "person a stable id (e.g. body_0)"))
            continue
        if person.track_id in seen:
            outcome.rejections.append(Rejection(
                Reason.DUPLICATE_TRACK_ID, f"track {person.track_id!r} appears twice in one "
                                           f"frame; the first one was used"))
            continue
        seen.add(person.track_id)
        valid = validate_skeleton(person.layout, person.joint_names, person.positions,
                                  person.confidence, min_joint_confidence)
        pushed = valid if isinstance(valid, Rejection) else tracker.push(
            person.track_id, stamp_ns, valid.positions_m, valid.observed)
        if isinstance(pushed, Rejection):
            outcome.rejections.append(pushed)
            continue
        outcome.accepted += 1
        if pushed.reset:
            outcome.reset.append(person.track_id)
        if tracker.num_frames(person.track_id) >= min_frames:
            outcome.ready.append(person.track_id)
    return outcome
