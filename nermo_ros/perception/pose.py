"""MediaPipe Pose -> the canonical skeleton with per-joint confidence.

MediaPipe's world landmarks are metric and hip-centred, with axes that follow the image
(x right, y down, z away from the camera), i.e. optical axes. We map them onto the canonical
17 joints and turn them into REP-103 body axes relative to the camera, so that downstream code
never sees MediaPipe's conventions. A joint MediaPipe barely sees keeps its (guessed) position
but gets confidence 0: marked, not invented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from nermo_ros import skeleton

# The pose landmark model file per model_complexity, as MediaPipe names them.
LANDMARK_MODEL_FILES = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite",
                        2: "pose_landmark_heavy.tflite"}


@dataclass(frozen=True)
class PoseConfig:
    """MediaPipe Pose settings plus the visibility below which a joint counts as missing."""

    model_complexity: int = 1
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smooth_landmarks: bool = True
    static_image_mode: bool = False
    visibility_threshold: float = 0.5


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


def mediapipe_model_dir() -> str:
    """Where the installed mediapipe wheel keeps its pose landmark models."""
    import mediapipe

    return os.path.join(os.path.dirname(mediapipe.__file__), "modules", "pose_landmark")


def available_model_complexities() -> tuple[int, ...]:
    """Complexities whose landmark model is installed (0.10.21's wheel ships only 1)."""
    model_dir = mediapipe_model_dir()
    return tuple(c for c, name in LANDMARK_MODEL_FILES.items()
                 if os.path.exists(os.path.join(model_dir, name)))


def check_model_complexity(model_complexity: int) -> None:
    """Fail before MediaPipe tries to download a model (nothing can be downloaded at run time)."""
    if model_complexity not in LANDMARK_MODEL_FILES:
        raise ValueError(f"model_complexity={model_complexity!r} is not a MediaPipe Pose "
                         f"complexity; use one of {sorted(LANDMARK_MODEL_FILES)}")
    available = available_model_complexities()
    if model_complexity not in available:
        path = os.path.join(mediapipe_model_dir(), LANDMARK_MODEL_FILES[model_complexity])
        raise ValueError(f"model_complexity={model_complexity} needs {path}, which the installed "
                         f"mediapipe does not ship; use one of {list(available)}, or put that "
                         "model file there")


def _landmark_array(landmarks, fields: str) -> np.ndarray:
    return np.array([[getattr(lm, f) for f in fields] for lm in landmarks.landmark],
                    dtype=np.float64).reshape(-1, len(fields))


class MediaPipePoseEstimator:
    """One MediaPipe Pose graph; it follows one person (MediaPipe's pose solution is single-person).

    Not thread-safe: call ``estimate`` from one thread, frames in time order.
    """

    def __init__(self, config: PoseConfig = PoseConfig()):
        check_model_complexity(config.model_complexity)
        if not 0.0 <= config.visibility_threshold <= 1.0:
            raise ValueError(f"visibility_threshold={config.visibility_threshold} must be in "
                             "[0, 1]")
        import mediapipe as mp

        self.config = config
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=config.static_image_mode,
            model_complexity=config.model_complexity,
            smooth_landmarks=config.smooth_landmarks,
            min_detection_confidence=config.min_detection_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
        )

    def estimate(self, rgb: np.ndarray) -> BodyObservation | None:
        """(H, W, 3) uint8 RGB -> the person in it, or None when nobody is detected."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        result = self._pose.process(np.ascontiguousarray(rgb))
        if result.pose_world_landmarks is None or result.pose_landmarks is None:
            return None
        world = _landmark_array(result.pose_world_landmarks, "xyz")
        visibility = _landmark_array(result.pose_landmarks, ("visibility",))[:, 0]
        image_xy = _landmark_array(result.pose_landmarks, "xy")
        return observation_from_landmarks(world, visibility, image_xy,
                                          self.config.visibility_threshold)

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> "MediaPipePoseEstimator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
