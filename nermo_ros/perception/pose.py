"""MediaPipe's PoseLandmarker task -> every person in a frame as the canonical skeleton.

MediaPipe's world landmarks are metric and hip-centred, with axes that follow the image
(x right, y down, z away from the camera), i.e. optical axes. We map them onto the canonical
17 joints and turn them into REP-103 body axes relative to the camera, so that downstream code
never sees MediaPipe's conventions. A joint MediaPipe barely sees keeps its (guessed) position
but gets confidence 0: marked, not invented.

The task runs the same two networks as MediaPipe's legacy single-person pose solution (from
the bundle built by ``bundle.py``) and gives the same landmarks for one person, but finds up to
``num_poses`` people. The legacy solution is not kept: it follows one person and, when several
are in view, can jump from one to another under the same identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nermo_ros import skeleton


@dataclass(frozen=True)
class PoseConfig:
    """PoseLandmarker settings plus the visibility below which a joint counts as missing.

    ``video_mode``: frames come in time order, so the task follows people from frame to frame
    (running the person detector only while it follows fewer than ``num_poses``) and smooths
    landmarks over time; False: every image on its own.
    """

    num_poses: int = 4
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    visibility_threshold: float = 0.5
    video_mode: bool = True

    def __post_init__(self):
        if self.num_poses < 1:
            raise ValueError(f"num_poses={self.num_poses} must be >= 1")
        for name in ("min_detection_confidence", "min_presence_confidence",
                     "min_tracking_confidence", "visibility_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value} must be in [0, 1]")


@dataclass(frozen=True)
class BodyObservation:
    """One person seen in one image.

    positions_m:  (J, 3) metres, hip-centred, REP-103 axes relative to the camera (x away from
                  the camera, y to the camera's left, z up).
    confidence:   (J,) in [0, 1]; 0 marks a joint below the visibility threshold.
    image_xy:     (J, 2) normalised image coordinates (x right, y down; 0..1 inside the image),
                  where depth is looked up.
    """

    positions_m: np.ndarray
    confidence: np.ndarray
    image_xy: np.ndarray


def observation_from_landmarks(world_xyz: np.ndarray, visibility: np.ndarray, image_xy: np.ndarray,
                               visibility_threshold: float) -> BodyObservation:
    """MediaPipe's 33 landmarks (world xyz in optical axes, visibility, normalised image xy)."""
    matrix = skeleton.MEDIAPIPE_TO_CANONICAL
    positions = skeleton.optical_to_body_frame(skeleton.map_positions(matrix, world_xyz))
    confidence = np.clip(skeleton.map_confidence(matrix, visibility), 0.0, 1.0)
    confidence = np.where(confidence >= visibility_threshold, confidence, 0.0)
    return BodyObservation(positions_m=positions.astype(np.float32),
                           confidence=confidence.astype(np.float32),
                           image_xy=(matrix @ image_xy).astype(np.float32))


class TaskClock:
    """Stamps in seconds -> the strictly increasing milliseconds the task's video mode needs.

    The task smooths with real frame intervals, so we pass stamps through; a stamp that does
    not move forward (a bag looping, two frames within a millisecond) continues one
    ``fallback_period_ms`` after the last one instead of stopping the task with an error.
    """

    def __init__(self, fallback_period_ms: int = 33):
        self.fallback_period_ms = fallback_period_ms
        self._offset_ms = 0
        self._last_ms: int | None = None
        self.stamps_out_of_order = 0

    def to_task_ms(self, stamp_s: float) -> int:
        stamp_ms = int(round(stamp_s * 1e3)) + self._offset_ms
        if self._last_ms is not None and stamp_ms <= self._last_ms:
            self.stamps_out_of_order += 1
            self._offset_ms += self._last_ms + self.fallback_period_ms - stamp_ms
            stamp_ms = self._last_ms + self.fallback_period_ms
        self._last_ms = stamp_ms
        return stamp_ms


def _landmark_array(landmarks, fields: str) -> np.ndarray:
    return np.array([[getattr(lm, f) for f in fields] for lm in landmarks],
                    dtype=np.float64).reshape(-1, len(fields))


class PoseEstimator:
    """One PoseLandmarker; ``estimate`` returns everybody it sees in a frame.

    Not thread-safe: call ``estimate`` from one thread, in video mode with frames in time order.
    """

    def __init__(self, config: PoseConfig = PoseConfig(), bundle_path: str | Path | None = None):
        from mediapipe.tasks.python import BaseOptions, vision

        from nermo_ros.perception.bundle import pose_bundle_path

        self.config = config
        self.bundle_path = Path(bundle_path) if bundle_path else pose_bundle_path()
        mode = vision.RunningMode.VIDEO if config.video_mode else vision.RunningMode.IMAGE
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.bundle_path)),
            running_mode=mode,
            num_poses=config.num_poses,
            min_pose_detection_confidence=config.min_detection_confidence,
            min_pose_presence_confidence=config.min_presence_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
        )
        self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self.clock = TaskClock()

    def estimate(self, rgb: np.ndarray, stamp_s: float = 0.0) -> tuple[BodyObservation, ...]:
        """(H, W, 3) uint8 RGB captured at ``stamp_s`` -> the people in it (maybe none)."""
        import mediapipe as mp

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.config.video_mode:
            result = self._landmarker.detect_for_video(image, self.clock.to_task_ms(stamp_s))
        else:
            result = self._landmarker.detect(image)
        return tuple(
            observation_from_landmarks(_landmark_array(world, "xyz"),
                                       _landmark_array(normalised, ("visibility",))[:, 0],
                                       _landmark_array(normalised, "xy"),
                                       self.config.visibility_threshold)
            for normalised, world in zip(result.pose_landmarks, result.pose_world_landmarks))

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
