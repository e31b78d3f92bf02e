"""Depth placement, MediaPipe landmark mapping, stamp matching and rate windows (no DDS)."""

import numpy as np
import pytest

from nermo_ros import skeleton
from nermo_ros.perception.depth import (CameraIntrinsics, DepthConfig, back_project,
                                        depth_around, place_with_depth)
from nermo_ros.perception.pose import (BodyObservation, PoseConfig, TaskClock,
                                       observation_from_landmarks)
from nermo_ros.perception.stamp_matcher import ApproximateStampMatcher
from nermo_ros.perception.stats import FrameRateWindow, SkippedFrameCounter

K = CameraIntrinsics(fx=500.0, fy=500.0, cx=320.0, cy=240.0, width=640, height=480)
PELVIS, NECK = skeleton.JOINT_INDEX["pelvis"], skeleton.JOINT_INDEX["neck"]


def test_back_projection_of_a_known_pixel():
    np.testing.assert_allclose(back_project(420.0, 140.0, 2.0, K), [0.4, -0.4, 2.0])


def test_intrinsics_from_camera_info_k_and_its_errors():
    k = CameraIntrinsics.from_k([500, 0, 320, 0, 510, 240, 0, 0, 1], 640, 480)
    assert (k.fx, k.fy, k.cx, k.cy) == (500.0, 510.0, 320.0, 240.0)
    with pytest.raises(ValueError, match="no usable intrinsics"):
        CameraIntrinsics.from_k([0.0] * 9, 640, 480)


def test_depth_is_the_median_of_valid_readings_around_the_pixel():
    depth = np.zeros((10, 10), np.float32)
    depth[4:7, 4:7] = [[2.0, 2.0, 9.9], [2.1, 0.0, 2.1], [np.nan, 2.0, 2.0]]
    config = DepthConfig(window_radius_px=1, max_depth_m=5.0)
    assert depth_around(depth, 5.5, 5.5, config) == pytest.approx(2.0)
    assert depth_around(depth, 1.5, 1.5, config) is None  # only zeros there
    assert depth_around(depth, -3.0, 5.0, config) is None  # outside the image


def standing_observation(pelvis_xy=(0.5, 0.5), pelvis_confidence=1.0) -> BodyObservation:
    positions = np.zeros((skeleton.NUM_JOINTS, 3), np.float32)
    positions[NECK] = [0.0, 0.0, 0.5]  # neck half a metre above the pelvis
    image_xy = np.full((skeleton.NUM_JOINTS, 2), 0.5, np.float32)
    image_xy[PELVIS] = pelvis_xy
    image_xy[NECK] = [0.5, 0.25]
    confidence = np.ones(skeleton.NUM_JOINTS, np.float32)
    confidence[PELVIS] = pelvis_confidence
    return BodyObservation(positions, confidence, image_xy)


def test_depth_places_the_pelvis_on_the_optical_axis_behind_the_surface():
    depth = np.full((480, 640), 2.0, np.float32)
    config = DepthConfig(surface_to_centre_m=0.1)
    placed = place_with_depth(standing_observation(), depth, K, config)
    np.testing.assert_allclose(placed[PELVIS], [2.1, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(placed[NECK], [2.1, 0.0, 0.5], atol=1e-6)


def test_a_pelvis_to_the_image_right_is_to_the_camera_right():
    depth = np.full((480, 640), 2.0, np.float32)
    placed = place_with_depth(standing_observation(pelvis_xy=(420 / 640, 0.5)), depth, K,
                              DepthConfig(surface_to_centre_m=0.0))
    np.testing.assert_allclose(placed[PELVIS], [2.0, -0.4, 0.0], atol=1e-6)


def test_an_unseen_pelvis_is_placed_from_the_neck():
    depth = np.full((480, 640), 3.0, np.float32)
    placed = place_with_depth(standing_observation(pelvis_confidence=0.0), depth, K,
                              DepthConfig(surface_to_centre_m=0.0))
    # neck pixel (320, 120) at 3 m: 0.72 m above the axis; the pelvis 0.5 m below that
    np.testing.assert_allclose(placed[NECK], [3.0, 0.0, 0.72], atol=1e-6)
    np.testing.assert_allclose(placed[PELVIS], [3.0, 0.0, 0.22], atol=1e-6)


def test_no_valid_depth_means_no_placement_and_wrong_sizes_are_an_error():
    assert place_with_depth(standing_observation(), np.zeros((480, 640), np.float32), K) is None
    with pytest.raises(ValueError, match="depth image is 320x240 but its camera_info says 640x480"):
        place_with_depth(standing_observation(), np.ones((240, 320), np.float32), K)


def test_mediapipe_landmarks_map_to_body_axes_and_low_visibility_is_marked_missing():
    world = np.zeros((33, 3))
    world[11] = [0.2, -0.5, 0.0]   # MediaPipe left shoulder: image right, up (y down)
    world[12] = [-0.2, -0.5, 0.0]  # right shoulder
    world[27] = [0.1, 0.8, 0.3]    # left ankle, behind the hips as seen from the camera
    visibility = np.ones(33)
    visibility[27] = 0.2
    image_xy = np.tile([0.5, 0.5], (33, 1))
    obs = observation_from_landmarks(world, visibility, image_xy, visibility_threshold=0.5)
    j = skeleton.JOINT_INDEX
    np.testing.assert_allclose(obs.positions_m[j["left_shoulder"]], [0.0, -0.2, 0.5])
    np.testing.assert_allclose(obs.positions_m[j["neck"]], [0.0, 0.0, 0.5])
    np.testing.assert_allclose(obs.positions_m[j["left_ankle"]], [0.3, -0.1, -0.8])
    assert obs.confidence[j["left_ankle"]] == 0.0
    assert obs.confidence[j["left_shoulder"]] == 1.0


@pytest.mark.parametrize("settings, says", [
    ({"num_poses": 0}, "num_poses=0 must be >= 1"),
    ({"min_presence_confidence": 1.5}, r"min_presence_confidence=1.5 must be in \[0, 1\]"),
])
def test_pose_settings_that_cannot_work_are_refused_with_the_value(settings, says):
    with pytest.raises(ValueError, match=says):
        PoseConfig(**settings)


def test_the_task_clock_passes_stamps_through_and_keeps_time_moving_when_they_go_back():
    clock = TaskClock(fallback_period_ms=33)
    assert [clock.to_task_ms(s) for s in (10.0, 10.1, 10.2)] == [10_000, 10_100, 10_200]
    assert clock.to_task_ms(5.0) == 10_233  # a bag looped: one period after the last frame
    assert clock.to_task_ms(5.1) == 10_333  # and on from there with the real steps
    assert clock.to_task_ms(5.1) == 10_366  # the same stamp again still moves forward
    assert clock.stamps_out_of_order == 2


def test_gaps_in_the_stamps_count_the_frames_never_processed():
    counter = SkippedFrameCounter()  # period: the smallest step seen
    for stamp_s in (0.0, 0.1, 0.2, 0.5, 0.6, 0.9):
        counter.add(stamp_s)
    assert counter.total == 4  # 0.3 and 0.4 missing, then 0.7 and 0.8


def test_a_known_camera_rate_counts_skips_even_when_no_two_frames_in_a_row_arrive():
    estimated, known = SkippedFrameCounter(), SkippedFrameCounter(camera_rate_hz=30.0)
    for i in range(10):  # every other frame of a 30 Hz camera
        estimated.add(i * 2 / 30.0)
        known.add(i * 2 / 30.0)
    assert known.total == 9
    assert estimated.total == 0  # the documented limit of estimating the rate


def test_matcher_pairs_each_image_with_the_nearest_depth_and_info_within_the_slop():
    matcher = ApproximateStampMatcher(3, slop_s=0.01)
    assert matcher.add(0, 1.000, "rgb1") == []
    assert matcher.add(1, 1.004, "depth1") == []
    assert matcher.add(2, 1.004, "info1") == [("rgb1", "depth1", "info1")]
    assert matcher.add(1, 1.036, "depth2") == []
    assert matcher.add(2, 1.036, "info2") == []
    assert matcher.add(0, 1.033, "rgb2") == [("rgb2", "depth2", "info2")]
    assert matcher.dropped_pivots == 0


def test_matcher_drops_an_image_whose_partner_never_comes_and_keeps_going():
    matcher = ApproximateStampMatcher(2, slop_s=0.01)
    matcher.add(0, 1.000, "rgb1")
    assert matcher.add(1, 1.050, "depth_late") == []  # past rgb1's slop: rgb1 is hopeless
    assert matcher.dropped_pivots == 1
    assert matcher.add(0, 1.052, "rgb2") == [("rgb2", "depth_late")]


def test_matcher_uses_each_partner_once():
    matcher = ApproximateStampMatcher(2, slop_s=0.05)
    matcher.add(1, 1.00, "depth1")
    assert matcher.add(0, 1.00, "rgb1") == [("rgb1", "depth1")]
    assert matcher.add(0, 1.03, "rgb2") == []  # depth1 is spent; waits for its own depth
    assert matcher.add(1, 1.03, "depth2") == [("rgb2", "depth2")]


def test_frame_and_detection_rates_over_the_window():
    rates = FrameRateWindow(window_s=1.0)
    for i in range(21):  # 20 Hz for one second, a person in every other frame
        rates.add(10.0 + 0.05 * i, person_found=i % 2 == 0)
    assert rates.frame_rate_hz(11.0) == pytest.approx(20.0)
    assert rates.detection_rate(11.0) == pytest.approx(11 / 21)
    assert rates.frames_in_window(12.5) == 0 and rates.frame_rate_hz(12.5) == 0.0
    assert rates.frames_total == 21 and rates.detections_total == 11


def test_the_perception_package_imports_without_rclpy():
    import subprocess
    import sys

    modules = ["anchor", "benchmark", "bundle", "depth", "frame_source", "identity",
               "image_convert", "media", "pipeline", "pose", "stamp_matcher", "stats", "video"]
    code = ("import sys; " + "; ".join(f"import nermo_ros.perception.{m}" for m in modules)
            + "; print(sorted(m for m in sys.modules if m.startswith(('rclpy', 'sensor_msgs'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
