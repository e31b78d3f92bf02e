"""Calibrated cameras, triangulation and the multi-camera reference for one camera's skeletons."""

import numpy as np
import pytest

from nermo_ros.perception.multiview import (Camera, frame_offsets, read_qualisys_calibration,
                                            reprojection_error_px, triangulate)


def _looking_at(name: str, position, target=(0.0, 0.0, 1.0)) -> Camera:
    """A 1000 px camera at ``position`` (m) whose optical axis points at ``target``, z up."""
    position, target = np.asarray(position, float), np.asarray(target, float)
    forward = (target - position) / np.linalg.norm(target - position)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    matrix = np.array([[1000.0, 0, 540], [0, 1000.0, 960], [0, 0, 1]])
    return Camera(name, matrix, np.array([-0.05, 0.1, 0.001, -0.001]), rotation,
                  -rotation @ position)


CAMERAS = tuple(_looking_at(f"cam{k}", p) for k, p in enumerate(
    [(4, 0, 2), (0, 4, 1.5), (-4, 0.5, 2.5), (0.5, -4, 1)]))


def _views(points: np.ndarray, cameras=CAMERAS) -> np.ndarray:
    return np.stack([camera.project(points) for camera in cameras])


def test_points_seen_by_several_cameras_come_back_where_they_were():
    points = np.random.default_rng(0).uniform([-0.5, -0.5, 0.0], [0.5, 0.5, 1.8], (17, 3))
    pixels = _views(points)
    valid = np.ones(pixels.shape[:2], bool)
    np.testing.assert_allclose(triangulate(CAMERAS, pixels, valid), points, atol=1e-6)
    valid[1:, 3] = False  # one view only: not placed
    valid[2:, 5] = False  # two views still place it
    found = triangulate(CAMERAS, pixels, valid)
    assert np.isnan(found[3]).all()
    np.testing.assert_allclose(found[5], points[5], atol=1e-6)
    errors = reprojection_error_px(CAMERAS, found, pixels, valid)
    assert np.nanmax(errors) < 1e-3 and np.isnan(errors[1:, 3]).all()


def test_one_view_that_disagrees_is_left_out_when_asked():
    points = np.array([[0.1, 0.2, 1.2], [-0.2, 0.1, 0.6]])
    pixels = _views(points)
    pixels[2, 0] += (150.0, -90.0)  # one camera's landmark on the wrong spot
    valid = np.ones(pixels.shape[:2], bool)
    plain = triangulate(CAMERAS, pixels, valid)
    robust = triangulate(CAMERAS, pixels, valid, max_error_px=40.0)
    assert np.linalg.norm(plain[0] - points[0]) > 0.02
    np.testing.assert_allclose(robust, points, atol=1e-6)


def test_views_that_started_recording_apart_are_lined_up():
    times = np.arange(60) / 60.0
    path = np.stack([0.5 * np.sin(2 * times), 0.3 * np.cos(3 * times), 1.0 + 0.2 * times], 1)
    points = path[:, None, :] + np.random.default_rng(1).normal(0, 0.3, (1, 12, 3))
    pixels = np.stack([_views(p) for p in points], axis=1)  # (C, F, N, 2)
    shifted = pixels.copy()
    shifted[2, :-3] = pixels[2, 3:]  # camera 2 shows each moment 3 frames early
    shifted[3, 2:] = pixels[3, :-2]  # camera 3 two frames late
    valid = np.ones(shifted.shape[:3], bool)
    assert frame_offsets(CAMERAS, shifted, valid, search=5, frames_step=2) == (0, 0, -3, 2)


def test_a_qualisys_calibration_reads_as_the_camera_it_describes(tmp_path):
    orientation = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    attributes = " ".join(f'r{i + 1}{j + 1}="{orientation[i, j]}"' for i in range(3)
                          for j in range(3))
    path = tmp_path / "calib.qca.txt"
    path.write_text(
        "<?xml version='1.0'?><calibration><cameras>"
        f'<camera serial="camA"><transform {attributes} x="3000" y="0" z="1000"/>'
        '<intrinsic centerPointU="34560" centerPointV="61440" focalLengthU="64000" '
        'focalLengthV="64000" radialDistortion1="0" radialDistortion2="0" '
        'tangentalDistortion1="0" tangentalDistortion2="0"/></camera></cameras></calibration>')
    (camera,) = read_qualisys_calibration(path)
    assert camera.name == "camA"
    np.testing.assert_allclose(camera.matrix, [[1000, 0, 540], [0, 1000, 960], [0, 0, 1]])
    position = np.array([3.0, 0.0, 1.0])
    np.testing.assert_allclose(camera.rotation @ position + camera.translation, 0, atol=1e-12)
    ahead = position + 2.0 * camera.depth_axis()
    np.testing.assert_allclose(camera.project(ahead[None])[0], [540, 960], atol=1e-9)
    (tmp_path / "empty.xml").write_text("<calibration><cameras/></calibration>")
    with pytest.raises(ValueError, match="no <camera> elements"):
        read_qualisys_calibration(tmp_path / "empty.xml")


@pytest.mark.slow
def test_the_packaged_four_camera_recording_gives_a_reference_the_views_agree_on():
    from nermo_ros.perception.media import MULTIVIEWS
    from nermo_ros.perception.reference import (LAB_SKELETON_ERROR_M,
                                                forecasts_against_reference, input_error_from,
                                                perceive_view, skeleton_error_m,
                                                triangulated_reference, view_error)

    views = MULTIVIEWS["lab_4views"]
    try:
        videos, calibration = views.require()
    except FileNotFoundError as missing:
        pytest.skip(str(missing))
    cameras = read_qualisys_calibration(calibration)
    tracks = [perceive_view(path) for path in videos]
    reference = triangulated_reference(cameras, tracks)
    assert np.nanmedian(reference.reprojection_px) < 20.0  # a wrong axis convention: 100s
    assert len(reference.frames) >= 90
    lengths = np.linalg.norm(reference.points_m[:, 2] - reference.points_m[:, 1], axis=1)
    assert 0.3 < np.nanmedian(lengths) < 0.5 and np.nanstd(lengths) < 0.03  # a left thigh
    first = view_error(reference, tracks[0], 0)
    assert 30.0 < first["mpjpe_mm"] < 300.0 and first["procrustes_mm"] < first["mpjpe_mm"]
    forecasts = forecasts_against_reference(reference, tracks[0], 0,
                                            predictors=("zero_velocity",))
    # 80 ms of a person's motion adds little to the skeleton's own error; misaligned axes or
    # stamps between the view and the reference would add far more.
    assert abs(forecasts["zero_velocity"]["mpjpe_mm"]["0.08"] - first["mpjpe_mm"]) < 60.0
    errors = [skeleton_error_m(reference, track, c) for c, track in enumerate(tracks)]
    # The perception node's declared default is this measurement (to the pose model's
    # run-to-run noise).
    np.testing.assert_allclose(input_error_from(errors), LAB_SKELETON_ERROR_M, rtol=0.1)
    margin = input_error_from(errors[1:])
    assert len(margin) == 17 and all(0.0 < m < 1.0 for m in margin)
    widened = forecasts_against_reference(reference, tracks[0], 0, ("zero_velocity",),
                                          overrides={"input_error_m": margin})
    assert widened["zero_velocity"]["mpjpe_mm"] == forecasts["zero_velocity"]["mpjpe_mm"]
    assert (widened["zero_velocity"]["radius_coverage"]
            > forecasts["zero_velocity"]["radius_coverage"] + 0.02)
