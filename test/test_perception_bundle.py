"""The PoseLandmarker bundle built from the wheel's pose models: cached, and its normalisation
matches what the legacy pose solution feeds the same networks (no DDS)."""

import zipfile

import numpy as np
import pytest

from nermo_ros.perception.bundle import (DETECTOR_NAME_IN_BUNDLE, LANDMARKS_NAME_IN_BUNDLE,
                                         LANDMARKS_NORMALISATION, InputNormalisation,
                                         build_bundle, pose_bundle_path)
from nermo_ros.perception.media import VIDEOS
from nermo_ros.perception.pose import PoseConfig, PoseEstimator, observation_from_landmarks
from perception_media import astronaut_rgb

ONE_PERSON_STILL = PoseConfig(num_poses=1, video_mode=False)
WRONG_DETECTOR_RANGE = InputNormalisation(mean_px=0.0, std_px=255.0)  # [0, 1], not [-1, 1]


def single_person_images() -> dict[str, np.ndarray]:
    """The astronaut photograph, and two frames of the packaged single-person video if there."""
    images = {"astronaut": astronaut_rgb()}
    path = VIDEOS["single"].path()
    if path is not None:
        from nermo_ros.perception.frame_source import FrameSource

        with FrameSource.video(str(path), start_time_s=0.0) as source:
            for index, frame in enumerate(source):
                if index in (0, 60):
                    images[f"video frame {index}"] = frame.rgb
                if index >= 60:
                    break
    return images


def legacy_landmarks(images: dict[str, np.ndarray]) -> dict:
    """The legacy solution's canonical skeleton of each image (static image mode)."""
    import mediapipe as mp

    out = {}
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as legacy:
        for name, rgb in images.items():
            result = legacy.process(rgb)
            world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark])
            image = result.pose_landmarks.landmark
            out[name] = observation_from_landmarks(
                world, np.array([p.visibility for p in image]),
                np.array([[p.x, p.y] for p in image]), ONE_PERSON_STILL.visibility_threshold)
    return out


def differences(bundle, images, legacy) -> dict[str, tuple[float, float]]:
    """Per image: (median pixel distance, median world distance in mm) over seen joints."""
    out = {}
    with PoseEstimator(ONE_PERSON_STILL, bundle) as estimator:
        for name, rgb in images.items():
            (body,) = estimator.estimate(rgb)
            reference = legacy[name]
            seen = reference.confidence > 0
            size = np.array(rgb.shape[1::-1])
            pixels = np.linalg.norm((body.image_xy - reference.image_xy)[seen] * size, axis=1)
            world_mm = 1e3 * np.linalg.norm((body.positions_m - reference.positions_m)[seen],
                                            axis=1)
            out[name] = (float(np.median(pixels)), float(np.median(world_mm)))
    return out


@pytest.fixture(scope="module")
def images():
    return single_person_images()


@pytest.fixture(scope="module")
def legacy(images):
    return legacy_landmarks(images)


def test_the_bundle_holds_both_models_under_the_names_the_task_reads(tmp_path):
    path = build_bundle(tmp_path / "pose.task")
    with zipfile.ZipFile(path) as bundle:
        assert sorted(bundle.namelist()) == sorted([DETECTOR_NAME_IN_BUNDLE,
                                                    LANDMARKS_NAME_IN_BUNDLE])
    assert not list(tmp_path.glob(".*partial"))  # written atomically


def test_the_bundle_is_built_once_per_wheel_and_then_found_in_the_cache(tmp_path):
    with pytest.raises(FileNotFoundError, match="run scripts/setup.sh"):
        pose_bundle_path(tmp_path, build=False)
    first = pose_bundle_path(tmp_path)
    built_ns = first.stat().st_mtime_ns
    assert pose_bundle_path(tmp_path) == first and first.stat().st_mtime_ns == built_ns
    assert pose_bundle_path(tmp_path, build=False) == first


def test_the_task_finds_the_same_landmarks_as_the_legacy_solution(images, legacy):
    for name, (pixels, world_mm) in differences(pose_bundle_path(), images, legacy).items():
        assert pixels < 1.0, f"{name}: landmarks {pixels:.2f} px from the legacy solution's"
        assert world_mm < 3.0, f"{name}: world landmarks {world_mm:.1f} mm from the legacy's"


def test_a_wrong_detector_normalisation_would_be_caught(tmp_path, images, legacy):
    wrong = build_bundle(tmp_path / "wrong.task", WRONG_DETECTOR_RANGE, LANDMARKS_NORMALISATION)
    worst_mm = max(world_mm for _, world_mm in differences(wrong, images, legacy).values())
    assert worst_mm > 10.0  # the person is cropped differently, and it shows


def test_the_other_video_frames_are_compared_too_when_the_video_package_is_installed(images):
    if VIDEOS["single"].path() is None:
        pytest.skip("pose2sim (requirements-media.txt) is not installed: astronaut only")
    assert len(images) == 3
