"""MediaPipe's PoseLandmarker on real images gives the canonical skeleton (no DDS)."""

import numpy as np
import pytest

from nermo_ros import skeleton
from nermo_ros.perception.depth import CameraIntrinsics, DepthConfig
from nermo_ros.perception.frame_source import FrameSource
from nermo_ros.perception.pipeline import DepthFrame, SkeletonPerception
from nermo_ros.perception.pose import PoseConfig, PoseEstimator
from nermo_ros.perception.video import iter_video_people
from perception_media import VIDEO_RATE_HZ, astronaut_rgb, write_astronaut_video

J = skeleton.JOINT_INDEX


@pytest.fixture(scope="module")
def estimator():
    with PoseEstimator(PoseConfig(video_mode=False)) as pose:
        yield pose


@pytest.fixture(scope="module")
def astronaut(estimator):
    (body,) = estimator.estimate(astronaut_rgb())
    return body


def test_the_astronaut_photograph_yields_an_upright_body_of_human_size(astronaut):
    p = astronaut.positions_m
    assert p.shape == (skeleton.NUM_JOINTS, 3) and np.isfinite(p).all()
    assert p[J["head"], 2] > p[J["neck"], 2] > p[J["pelvis"], 2]
    assert 0.3 < np.linalg.norm(p[J["neck"]] - p[J["pelvis"]]) < 0.7
    assert 0.25 < np.linalg.norm(p[J["left_shoulder"]] - p[J["right_shoulder"]]) < 0.5
    assert abs(p[J["pelvis"]]).max() < 0.05  # world landmarks are hip-centred


def test_she_faces_the_camera_so_her_left_shoulder_is_on_the_camera_right(astronaut):
    p = astronaut.positions_m
    assert p[J["left_shoulder"], 1] < p[J["right_shoulder"], 1]  # y points to the camera's left
    xy = astronaut.image_xy
    assert xy[J["left_shoulder"], 0] > xy[J["right_shoulder"], 0]
    assert xy[J["head"], 1] < xy[J["neck"], 1]  # image y grows downwards


def test_seen_joints_are_confident_and_the_legs_out_of_frame_are_marked_missing(astronaut):
    c = astronaut.confidence
    assert ((c >= 0) & (c <= 1)).all()
    for name in ("head", "neck", "left_shoulder", "right_shoulder"):
        assert c[J[name]] > 0.9, name
    for name in ("left_knee", "right_knee", "left_ankle", "right_ankle", "left_toe", "right_toe"):
        assert c[J[name]] == 0.0, name
        assert astronaut.image_xy[J[name], 1] > 1.0  # below the image: guessed, not seen


def test_an_empty_scene_has_nobody(estimator):
    assert estimator.estimate(np.full((480, 640, 3), 128, np.uint8)) == ()


def test_depth_places_the_astronaut_at_the_measured_distance(estimator):
    # Her hips are out of frame, so the neck anchors the skeleton: a wall of depth 2 m.
    rgb = astronaut_rgb()
    k = CameraIntrinsics(fx=600.0, fy=600.0, cx=256.0, cy=256.0, width=512, height=512)
    depth = DepthFrame(np.full((512, 512), 2.0, np.float32), k)
    perception = SkeletonPerception(estimator, depth_config=DepthConfig(surface_to_centre_m=0.1))
    (person,) = perception.process(rgb, 0.0, depth).people
    neck = person.positions_m[J["neck"]]
    assert neck[0] == pytest.approx(2.1, abs=1e-4)
    (observation,) = estimator.estimate(rgb)
    u_px, v_px = observation.image_xy[J["neck"]] * 512
    assert neck[1] == pytest.approx(-(u_px - 256.0) * 2.1 / 600.0, abs=1e-3)
    assert neck[2] == pytest.approx(-(v_px - 256.0) * 2.1 / 600.0, abs=1e-3)


def test_a_video_file_is_read_with_its_frame_times_after_the_start_time(tmp_path):
    path = write_astronaut_video(tmp_path / "astronaut.avi", num_frames=3)
    with FrameSource.video(str(path), start_time_s=100.0, loop=True) as source:
        assert source.rate_hz == pytest.approx(VIDEO_RATE_HZ)
        stamps = [source.read().stamp_s for _ in range(7)]
    np.testing.assert_allclose(stamps, 100.0 + np.arange(7) / VIDEO_RATE_HZ, atol=1e-6)


def test_a_slow_reader_skips_late_video_frames_to_stay_real_time(tmp_path):
    path = write_astronaut_video(tmp_path / "astronaut.avi", num_frames=6)
    with FrameSource.video(str(path), clock=lambda: 100.0) as source:
        assert source.read(not_before_s=100.0).stamp_s == pytest.approx(100.0)  # starts the clock
        # 0.35 s later: the frames at 100.1 and 100.2 are more than a period late
        assert source.read(not_before_s=100.35).stamp_s == pytest.approx(100.3)
        assert source.skipped_frames == 2
        assert source.read().stamp_s == pytest.approx(100.4)  # without a deadline: the next one


def test_a_missing_video_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        FrameSource.video(str(tmp_path / "nope.mp4"))


def test_a_camera_that_cannot_be_opened_is_an_error_naming_the_device():
    with pytest.raises(ValueError, match=r"cannot open camera device 57 \(/dev/video57\)"):
        FrameSource.camera(57)


def test_a_video_gives_one_stamped_frame_per_video_frame_with_its_person(tmp_path):
    path = write_astronaut_video(tmp_path / "astronaut.avi", num_frames=4)
    frames = list(iter_video_people(str(path), start_time_s=5.0))
    assert [f.stamp_s for f in frames] == pytest.approx([5.0, 5.1, 5.2, 5.3])
    for f in frames:
        (person,) = f.result.people
        assert person.track_id == "body_0"  # one person, one id across frames
        assert person.positions_m.shape == (skeleton.NUM_JOINTS, 3)
        assert person.confidence[J["neck"]] > 0.9 and person.confidence[J["left_ankle"]] == 0.0


def test_video_frames_without_a_person_are_kept_as_empty_frames(tmp_path):
    import cv2

    path = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(2):
        writer.write(np.full((48, 64, 3), 90, np.uint8))
    writer.release()
    frames = list(iter_video_people(str(path)))
    assert [(f.result.people, f.result.bodies_found) for f in frames] == [((), 0), ((), 0)]
