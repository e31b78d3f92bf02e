"""One frame in, the people in it out: detection, optional depth placement, persistent ids.

The node converts messages to arrays and calls ``SkeletonPerception.process``; everything that
decides what gets published lives here, so it is tested without DDS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.perception.anchor import (PELVIS, apparent_size_px, metres_per_pixel, pelvis_px,
                                         without_duplicates)
from nermo_ros.perception.depth import CameraIntrinsics, DepthConfig, place_with_depth
from nermo_ros.perception.identity import IdentityTracker
from nermo_ros.perception.pose import BodyObservation

# Two bodies whose joint boxes overlap more than this (of the smaller box) are one person
# fitted twice; measured on real video, such pairs overlap 0.82-1.0, people side by side ~0.
DUPLICATE_BOX_OVERLAP = 0.8
# The frame the skeletons are in (REP-103 axes at the camera): the perception node's default
# header frame_id, and every offline tool's that writes what it would have published.
CAMERA_FRAME_ID = "camera_link"


@dataclass(frozen=True)
class PersonSkeleton:
    """One person to publish: (J, 3) metres and (J,) confidence, both float32."""

    track_id: str
    positions_m: np.ndarray
    confidence: np.ndarray


@dataclass(frozen=True)
class FrameResult:
    """The people of one frame to publish, and what happened to the bodies found.

    bodies_found: bodies the pose estimator reported; duplicates: of those, second fits of a
    person already found (dropped); depth_missing: bodies without valid depth around the
    pelvis or neck (not published); over_max_tracks: bodies left out because ``max_tracks``
    places were taken.
    """

    people: tuple[PersonSkeleton, ...]
    bodies_found: int
    duplicates: int = 0
    depth_missing: int = 0
    over_max_tracks: int = 0


@dataclass(frozen=True)
class DepthFrame:
    """A depth image in metres registered to the colour image, with its intrinsics."""

    depth_m: np.ndarray
    intrinsics: CameraIntrinsics


class SkeletonPerception:
    """A pose estimator (``estimate(rgb, stamp_s) -> tuple[BodyObservation, ...]``) and the
    identity tracker that names its bodies."""

    def __init__(self, estimator, identities: IdentityTracker | None = None,
                 depth_config: DepthConfig = DepthConfig(),
                 duplicate_box_overlap: float = DUPLICATE_BOX_OVERLAP):
        if not 0.0 < duplicate_box_overlap <= 1.0:
            raise ValueError(f"duplicate_box_overlap={duplicate_box_overlap} must be in (0, 1]")
        self.estimator = estimator
        self.identities = identities or IdentityTracker()
        self.depth_config = depth_config
        self.duplicate_box_overlap = duplicate_box_overlap
        self.duplicates_total = 0

    def process(self, rgb: np.ndarray, stamp_s: float,
                depth: DepthFrame | None = None) -> FrameResult:
        """Without depth: hip-centred metric skeletons; with depth: metric in the camera frame."""
        found: tuple[BodyObservation, ...] = self.estimator.estimate(rgb, stamp_s)
        observations = without_duplicates(found, self.duplicate_box_overlap)
        self.duplicates_total += len(found) - len(observations)
        height_px, width_px = rgb.shape[:2]
        bodies, anchors, scales, sizes_px = [], [], [], []
        for observation in observations:
            positions_m = observation.positions_m
            if depth is not None:
                positions_m = place_with_depth(observation, depth.depth_m, depth.intrinsics,
                                               self.depth_config)
                if positions_m is None:
                    continue
                anchors.append(positions_m[PELVIS])
                scales.append(1.0)
            else:
                anchors.append(pelvis_px(observation, width_px, height_px))
                scales.append(metres_per_pixel(observation, width_px, height_px))
            bodies.append((positions_m, observation.confidence))
            sizes_px.append(apparent_size_px(observation, width_px, height_px))
        over_before = self.identities.counts.bodies_over_max_tracks
        anchor_dims = 3 if depth is not None else 2
        anchors = np.array(anchors, dtype=np.float64).reshape(len(bodies), anchor_dims)
        ids = self.identities.update(stamp_s, anchors, np.array(scales), np.array(sizes_px))
        people = tuple(PersonSkeleton(track_id, positions_m, confidence)
                       for track_id, (positions_m, confidence) in zip(ids, bodies)
                       if track_id is not None)
        return FrameResult(people=people, bodies_found=len(found),
                           duplicates=len(found) - len(observations),
                           depth_missing=len(observations) - len(bodies),
                           over_max_tracks=self.identities.counts.bodies_over_max_tracks
                           - over_before)
