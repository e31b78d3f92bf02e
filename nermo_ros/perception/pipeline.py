"""One frame in, the people in it out: detection, optional depth placement, track ids.

The node converts messages to arrays and calls ``SkeletonPerception.process``; everything that
decides what gets published lives here, so it is tested without DDS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.perception.depth import CameraIntrinsics, DepthConfig, place_with_depth
from nermo_ros.perception.pose import BodyObservation

# MediaPipe's pose solution follows one person, so there is one track.
SINGLE_TRACK_ID = "body_0"


@dataclass(frozen=True)
class PersonSkeleton:
    """One person to publish: (J, 3) metres and (J,) confidence, both float32."""

    track_id: str
    positions_m: np.ndarray
    confidence: np.ndarray


@dataclass(frozen=True)
class FrameResult:
    """The people of one frame; ``depth_missing`` when a person was seen but not placed."""

    people: tuple[PersonSkeleton, ...]
    detected: bool
    depth_missing: bool = False


@dataclass(frozen=True)
class DepthFrame:
    """A depth image in metres registered to the colour image, with its intrinsics."""

    depth_m: np.ndarray
    intrinsics: CameraIntrinsics


class SkeletonPerception:
    """Runs a pose estimator (anything with ``estimate(rgb) -> BodyObservation | None``)."""

    def __init__(self, estimator, depth_config: DepthConfig = DepthConfig(),
                 track_id: str = SINGLE_TRACK_ID):
        self.estimator = estimator
        self.depth_config = depth_config
        self.track_id = track_id

    def process(self, rgb: np.ndarray, depth: DepthFrame | None = None) -> FrameResult:
        """Without depth: hip-centred metric skeleton; with depth: metric in the camera frame."""
        observation: BodyObservation | None = self.estimator.estimate(rgb)
        if observation is None:
            return FrameResult(people=(), detected=False)
        positions_m = observation.positions_m
        if depth is not None:
            placed = place_with_depth(observation, depth.depth_m, depth.intrinsics,
                                      self.depth_config)
            if placed is None:
                return FrameResult(people=(), detected=True, depth_missing=True)
            positions_m = placed
        person = PersonSkeleton(self.track_id, positions_m, observation.confidence)
        return FrameResult(people=(person,), detected=True)
