"""The PoseLandmarker `.task` bundle, built from the pose models inside the installed mediapipe.

The mediapipe wheel ships the two pose networks of its legacy solution but no `.task` bundle,
and the task API refuses the bare files: their float image input carries no normalisation
metadata. We write that metadata with mediapipe's own metadata writer and zip the two models
under the names the task looks for. Nothing is downloaded.

The normalisation is the one the legacy solution's graphs feed each network (its
ImageToTensor ranges): the person detector takes pixels scaled to [-1, 1], the landmark
network pixels scaled to [0, 1]. ``test/test_perception_bundle.py`` checks it: the task's
landmarks on single-person photographs match the legacy solution's, while either wrong range
moves them by centimetres.

The bundle is cached by the content of the two model files and of these settings, so a new
wheel or a change here builds a new one; ``scripts/setup.sh`` builds it once at set-up, and
``pose_bundle_path()`` builds it on first use wherever set-up was skipped (about a second).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

# Where the installed wheel keeps the models, relative to the mediapipe package.
DETECTOR_MODEL = Path("modules/pose_detection/pose_detection.tflite")
LANDMARK_MODEL = Path("modules/pose_landmark/pose_landmark_full.tflite")
# The names the PoseLandmarker task looks for inside a bundle.
DETECTOR_NAME_IN_BUNDLE = "pose_detector.tflite"
LANDMARKS_NAME_IN_BUNDLE = "pose_landmarks_detector.tflite"
BUNDLE_FORMAT = 1  # bump when what is written changes in a way the key would not see


@dataclass(frozen=True)
class InputNormalisation:
    """A network input of (pixel - mean_px) / std_px, for 8-bit pixels."""

    mean_px: float
    std_px: float


DETECTOR_NORMALISATION = InputNormalisation(mean_px=127.5, std_px=127.5)  # -> [-1, 1]
LANDMARKS_NORMALISATION = InputNormalisation(mean_px=0.0, std_px=255.0)   # -> [0, 1]


def mediapipe_dir() -> Path:
    """The installed mediapipe package."""
    import mediapipe

    return Path(mediapipe.__file__).resolve().parent


def wheel_model_paths() -> tuple[Path, Path]:
    """(detector, landmark) model files of the installed wheel; an error names a missing one."""
    root = mediapipe_dir()
    paths = (root / DETECTOR_MODEL, root / LANDMARK_MODEL)
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing from the installed mediapipe; reinstall "
                                    "the pinned wheel (scripts/setup.sh) to get its pose models")
    return paths


def default_cache_dir() -> Path:
    """``$NERMO_CACHE_DIR/pose`` or ``~/.cache/nermo_ros/pose``."""
    root = os.environ.get("NERMO_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "nermo_ros") / "pose"


def bundle_key(detector: Path, landmarks: Path,
               detector_norm: InputNormalisation = DETECTOR_NORMALISATION,
               landmarks_norm: InputNormalisation = LANDMARKS_NORMALISATION) -> str:
    """A short hash of both model files' contents and the normalisation written into them."""
    digest = hashlib.sha256()
    for path in (detector, landmarks):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    settings = {"format": BUNDLE_FORMAT, "detector": asdict(detector_norm),
                "landmarks": asdict(landmarks_norm)}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def with_image_normalisation(model: bytes, norm: InputNormalisation, name: str) -> bytes:
    """The tflite model with metadata saying how its RGB image input is normalised."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, "mediapipe pose model with image normalisation metadata")
    writer.add_image_input(norm_mean=[norm.mean_px], norm_std=[norm.std_px])
    written, _ = writer.populate()
    return bytes(written)


def build_bundle(path: Path, detector_norm: InputNormalisation = DETECTOR_NORMALISATION,
                 landmarks_norm: InputNormalisation = LANDMARKS_NORMALISATION) -> Path:
    """Write the bundle to ``path`` (atomically: readers never see half a file)."""
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    detector, landmarks = wheel_model_paths()
    models = {
        DETECTOR_NAME_IN_BUNDLE: with_image_normalisation(
            detector.read_bytes(), detector_norm, "pose_detector"),
        LANDMARKS_NAME_IN_BUNDLE: with_image_normalisation(
            landmarks.read_bytes(), landmarks_norm, "pose_landmarks_detector"),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        model_asset_bundle_utils.create_model_asset_bundle(models, str(partial))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def pose_bundle_path(cache_dir: Path | None = None, build: bool = True) -> Path:
    """The cached bundle for the installed wheel, built first if it is not there yet.

    With ``build=False`` a missing bundle is an error that says how to build it.
    """
    detector, landmarks = wheel_model_paths()
    key = bundle_key(detector, landmarks)
    path = (cache_dir or default_cache_dir()) / f"pose_landmarker_full-{key}.task"
    if path.is_file():
        return path
    if not build:
        raise FileNotFoundError(f"no pose bundle at {path}; run scripts/setup.sh or "
                                "`python -m nermo_ros.commands.perception bundle`")
    return build_bundle(path)
