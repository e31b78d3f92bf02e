"""Where a body is in the room, for telling people apart from frame to frame.

With depth the pelvis is placed metrically (``depth.place_with_depth``) and that is the anchor.
Without depth a single camera does not know how far away someone is, but a body is its own
ruler: MediaPipe's world landmarks give its size in metres and its image landmarks its size in
pixels, so their ratio is metres per pixel at the person's distance (weak perspective). The
pelvis's pixel then is the anchor, and a move of so many pixels is a move of so many metres
across the view, which is what the identity tracker gates on. None of this is published:
published positions stay hip-centred without depth.
"""

from __future__ import annotations

import numpy as np

from nermo_ros import skeleton
from nermo_ros.perception.pose import BodyObservation

PELVIS = skeleton.JOINT_INDEX["pelvis"]
MIN_JOINTS_FOR_SCALE = 3


def _spread(points: np.ndarray) -> float:
    """Mean distance of points from their centroid."""
    return float(np.linalg.norm(points - points.mean(axis=0), axis=1).mean())


def image_joints_px(observation: BodyObservation, width_px: int, height_px: int) -> np.ndarray:
    """(J, 2) joint pixels, x right, y down."""
    return observation.image_xy * np.array([width_px, height_px], dtype=np.float32)


def scale_joints(observation: BodyObservation) -> np.ndarray:
    """Indices of the joints the body's size is measured on: the confident ones, or all when
    fewer than ``MIN_JOINTS_FOR_SCALE`` are confident."""
    seen = np.flatnonzero(observation.confidence > 0.0)
    return seen if seen.size >= MIN_JOINTS_FOR_SCALE else np.arange(len(observation.confidence))


def apparent_size_px(observation: BodyObservation, width_px: int, height_px: int) -> float:
    """How big the body looks: the joints' mean distance from their centroid, in pixels."""
    joints = scale_joints(observation)
    return _spread(image_joints_px(observation, width_px, height_px)[joints])


def metres_per_pixel(observation: BodyObservation, width_px: int, height_px: int) -> float:
    """The body's size in metres across the image plane over its size in pixels."""
    joints = scale_joints(observation)
    # REP-103 body axes: y (left) and z (up) span the image plane.
    size_m = _spread(observation.positions_m[joints][:, 1:])
    size_px = _spread(image_joints_px(observation, width_px, height_px)[joints])
    return size_m / size_px if size_px > 0.0 else 0.0


def pelvis_px(observation: BodyObservation, width_px: int, height_px: int) -> np.ndarray:
    """(2,) the pelvis's pixel (MediaPipe's estimate even where the hips are out of view)."""
    return image_joints_px(observation, width_px, height_px)[PELVIS].astype(np.float64)


def box_overlap(a: BodyObservation, b: BodyObservation) -> float:
    """How much of the smaller of the two bodies' joint boxes lies in the other, 0 to 1.

    Two fits of one person (MediaPipe sometimes reports a person twice, the second fit
    often poor: crouched, mirrored, only some joints right) mostly share the smaller box; two
    people next to each other share little. Normalised coordinates: the image size cancels.
    """
    low = np.maximum(a.image_xy.min(axis=0), b.image_xy.min(axis=0))
    high = np.minimum(a.image_xy.max(axis=0), b.image_xy.max(axis=0))
    inter = float(np.prod(np.clip(high - low, 0.0, None)))
    area_a = float(np.prod(a.image_xy.max(axis=0) - a.image_xy.min(axis=0)))
    area_b = float(np.prod(b.image_xy.max(axis=0) - b.image_xy.min(axis=0)))
    smaller = min(area_a, area_b)
    return inter / smaller if smaller > 0.0 else 0.0


def without_duplicates(observations: tuple[BodyObservation, ...], max_box_overlap: float
                       ) -> tuple[BodyObservation, ...]:
    """The bodies left when, of any two whose boxes overlap more than ``max_box_overlap``, only
    the one with more joint confidence is kept (the better fit of one person)."""
    order = sorted(range(len(observations)), key=lambda i: -float(observations[i].confidence.sum()))
    kept: list[int] = []
    for i in order:
        if all(box_overlap(observations[i], observations[k]) <= max_box_overlap for k in kept):
            kept.append(i)
    return tuple(observations[i] for i in sorted(kept))
