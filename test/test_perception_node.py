"""The perception node over DDS: real images in, Skeleton3DArray and /diagnostics out."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from nermo_ros import skeleton  # noqa: E402
from nermo_ros.msg import Skeleton3DArray  # noqa: E402
from nermo_ros.nodes.diagnostics import status_values  # noqa: E402
from nermo_ros.nodes.msg_convert import ns_to_stamp, skeleton_fields, stamp_to_ns  # noqa: E402
from nermo_ros.parameters import (load_parameter_file, specs_as_markdown,  # noqa: E402
                                  specs_as_yaml)
from nermo_ros.nodes.perception_node import NODE_NAME, PARAMS, PerceptionNode  # noqa: E402
from nermo_ros.perception.image_convert import image_fields  # noqa: E402
from perception_media import VIDEO_RATE_HZ, astronaut_rgb, write_astronaut_video  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_ID = 60 + os.getpid() % 40  # own DDS domains (60-99): parallel runs do not cross-talk
J = skeleton.JOINT_INDEX
STAMP_NS = 1_700_000_000_123_000_000


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init(domain_id=DOMAIN_ID)
    yield
    rclpy.try_shutdown()


class Harness:
    """A perception node plus a test node that feeds it and records what it publishes."""

    def __init__(self, **overrides):
        overrides.setdefault("diagnostics_period_s", 0.2)
        self.node = PerceptionNode(overrides=overrides)
        self.probe = rclpy.create_node("perception_probe")
        self.arrays: list[Skeleton3DArray] = []
        self.diagnostics: list[dict] = []
        self.probe.create_subscription(Skeleton3DArray, "skeletons", self.arrays.append, 10)
        self.probe.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.image_pub = self.probe.create_publisher(Image, "image", 10)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("perception"):
                self.diagnostics.append({"level": status.level, "message": status.message,
                                         **status_values(status)})

    def spin_until(self, condition, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def connect(self, publisher) -> None:
        assert self.spin_until(lambda: publisher.get_subscription_count() > 0), \
            "the perception node never subscribed"

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.probe.destroy_node()


@pytest.fixture
def harness_factory():
    made = []

    def make(**overrides):
        made.append(Harness(**overrides))
        return made[-1]

    yield make
    for harness in made:
        harness.close()


def image_msg(pixels, encoding="rgb8", stamp_ns=STAMP_NS, frame_id="camera_color_optical_frame"):
    msg = Image(**image_fields(pixels, encoding))
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = frame_id
    return msg


def test_an_image_of_a_person_becomes_a_stamped_canonical_skeleton(harness_factory):
    h = harness_factory()
    h.connect(h.image_pub)
    h.image_pub.publish(image_msg(astronaut_rgb()))
    assert h.spin_until(lambda: h.arrays), "no Skeleton3DArray published"
    msg = h.arrays[0]
    assert stamp_to_ns(msg.header.stamp) == STAMP_NS
    assert msg.header.frame_id == "camera_link"
    (person,) = msg.skeletons
    assert person.track_id == "body_0" and person.layout == skeleton.LAYOUT_ID
    assert stamp_to_ns(person.header.stamp) == STAMP_NS
    positions, confidence = skeleton_fields(person)
    positions = positions.reshape(skeleton.NUM_JOINTS, 3)
    assert positions[J["head"], 2] > positions[J["neck"], 2] > positions[J["pelvis"], 2]
    assert confidence[J["neck"]] > 0.9 and confidence[J["left_ankle"]] == 0.0


def test_an_image_without_a_person_gives_an_empty_array_with_its_stamp(harness_factory):
    h = harness_factory()
    h.connect(h.image_pub)
    h.image_pub.publish(image_msg(np.full((240, 320, 3), 128, np.uint8), stamp_ns=STAMP_NS + 7))
    assert h.spin_until(lambda: h.arrays)
    assert stamp_to_ns(h.arrays[0].header.stamp) == STAMP_NS + 7
    assert list(h.arrays[0].skeletons) == []
    assert h.spin_until(lambda: any(d["frames_without_person_total"] == "1"
                                    for d in h.diagnostics))


def test_bad_images_are_counted_and_the_node_keeps_working(harness_factory):
    h = harness_factory()
    h.connect(h.image_pub)
    short = image_msg(astronaut_rgb())
    short.data = bytes(100)  # wrong data length
    yuv = image_msg(astronaut_rgb())
    yuv.encoding = "yuv422"  # unsupported encoding
    empty = Image(encoding="rgb8")  # zero size
    for bad in (short, yuv, empty):
        h.image_pub.publish(bad)
        h.spin_until(lambda: False, timeout_s=0.3)
    h.image_pub.publish(image_msg(astronaut_rgb(), stamp_ns=STAMP_NS + 1))
    assert h.spin_until(lambda: h.arrays)
    assert [stamp_to_ns(a.header.stamp) for a in h.arrays] == [STAMP_NS + 1]
    assert h.spin_until(lambda: any(d.get("dropped_bad_image_total") == "3"
                                    for d in h.diagnostics))


def test_diagnostics_report_frame_rate_detection_rate_and_latency(harness_factory):
    h = harness_factory()
    h.connect(h.image_pub)
    for i in range(4):
        h.image_pub.publish(image_msg(astronaut_rgb(), stamp_ns=STAMP_NS + i * 50_000_000))
        count = i + 1
        assert h.spin_until(lambda: len(h.arrays) >= count)
    assert h.spin_until(lambda: any(d["frames_total"] == "4" for d in h.diagnostics))
    report = [d for d in h.diagnostics if d["frames_total"] == "4"][-1]
    assert float(report["frame_rate_hz"]) > 0.0
    assert float(report["detection_rate"]) == pytest.approx(1.0)
    assert 0.0 < float(report["latency_p50_ms"]) <= float(report["latency_p99_ms"]) < 5000.0
    assert report["level"] == b"\x00"  # OK
    # the same person in every frame: one track, no jumps, nobody left out, no frame skipped
    assert (report["people_in_last_frame"], report["tracks_started_total"],
            report["identity_jumps_total"], report["bodies_over_max_tracks_total"],
            report["frames_skipped_total"]) == ("1", "1", "0", "0", "0")


def test_a_video_file_is_published_at_its_frame_times(harness_factory, tmp_path):
    path = write_astronaut_video(tmp_path / "astronaut.avi", num_frames=4)
    h = harness_factory(video_path=str(path), video_realtime=False,  # every frame, even if slow
                        rate_window_s=0.5)
    assert h.spin_until(lambda: len(h.arrays) >= 4, timeout_s=20.0)
    stamps_s = np.array([stamp_to_ns(a.header.stamp) for a in h.arrays]) * 1e-9
    np.testing.assert_allclose(np.diff(stamps_s), 1.0 / VIDEO_RATE_HZ, atol=1e-6)
    assert abs(stamps_s[0] - time.time()) < 30.0  # offset to the node's start time
    assert all(len(a.skeletons) == 1 for a in h.arrays)
    assert h.spin_until(lambda: any("ended" in d["message"] for d in h.diagnostics))
    ended = next(d for d in h.diagnostics if "ended" in d["message"])
    assert ended["level"] == b"\x00" and ended["frames_total"] == "4"


def test_depth_and_camera_info_place_the_person_in_the_camera_frame(harness_factory):
    h = harness_factory(use_depth=True, depth_topic="depth", camera_info_topic="depth_info")
    depth_pub = h.probe.create_publisher(Image, "depth", 10)
    info_pub = h.probe.create_publisher(CameraInfo, "depth_info", 10)
    for publisher in (h.image_pub, depth_pub, info_pub):
        h.connect(publisher)
    depth = image_msg(np.full((512, 512), 2000, np.uint16), "16UC1")  # a wall 2 m away
    info = CameraInfo(width=512, height=512, k=[600.0, 0.0, 256.0, 0.0, 600.0, 256.0, 0, 0, 1])
    info.header = depth.header
    depth_pub.publish(depth)
    info_pub.publish(info)
    h.image_pub.publish(image_msg(astronaut_rgb()))
    assert h.spin_until(lambda: h.arrays)
    (person,) = h.arrays[0].skeletons
    positions = skeleton_fields(person)[0].reshape(skeleton.NUM_JOINTS, 3)
    # her hips are out of frame: the neck anchors, 2 m of depth + 0.1 m to the body centre
    assert positions[J["neck"], 0] == pytest.approx(2.1, abs=1e-3)
    assert positions[J["head"], 2] > positions[J["neck"], 2]


def test_a_parameter_set_at_run_time_is_refused_with_what_to_do(harness_factory):
    """The node reads its parameters at start: `ros2 param set` says so instead of changing
    a value nobody reads again."""
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient

    h = harness_factory()
    client = AsyncParameterClient(h.probe, "perception")
    assert h.spin_until(client.services_are_ready)
    future = client.set_parameters([Parameter("num_poses", value=2)])
    assert h.spin_until(future.done)
    (result,) = future.result().results
    assert not result.successful
    assert "num_poses not changed: the node reads it at start" in result.reason
    assert "-p num_poses:=VALUE" in result.reason
    assert h.node.get_parameter("num_poses").value == h.node.settings["num_poses"]


def test_two_sources_at_once_are_refused():
    with pytest.raises(ValueError, match="choose one source"):
        PerceptionNode(overrides={"video_path": "a.mp4", "camera_device": 0})


def test_the_docs_list_every_parameter_with_its_default_and_description():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "perception.md").read_text()
    assert specs_as_markdown(PARAMS) in docs


def test_the_config_file_sets_every_parameter_to_its_documented_default():
    config = Path(__file__).resolve().parents[1] / "config" / "perception.yaml"
    expected = specs_as_yaml(PARAMS, NODE_NAME)[NODE_NAME]["ros__parameters"]
    assert load_parameter_file(config, NODE_NAME) == expected


@pytest.mark.parametrize("overrides, says", [
    ({"image_queue_size": 0}, "image_queue_size=0 is too small"),
    ({"min_depth_m": 5.0, "max_depth_m": 1.0}, r"min_depth_m \(5.0\) < max_depth_m \(1.0\)"),
    ({"use_depth": True, "camera_device": 0}, "a video file or OpenCV camera has no depth"),
    ({"num_poses": 0}, "num_poses=0 must be >= 1"),
    ({"max_tracks": 0}, "max_tracks=0 must be >= 1"),
])
def test_settings_that_cannot_work_are_refused_with_the_value(overrides, says):
    with pytest.raises(ValueError, match=says):
        PerceptionNode(overrides=overrides)


def test_a_predictor_started_beside_it_takes_its_skeleton_error_unless_it_sets_its_own(tmp_path):
    from nermo_ros.nodes.bringup import camera_input_error
    from nermo_ros.perception.reference import LAB_SKELETON_ERROR_M as SKELETON_ERROR_M

    assert camera_input_error(None, None, None, None) == {
        "input_error_m": list(SKELETON_ERROR_M)}
    assert camera_input_error(None, {"input_error_m": [0.3]}, None, None) == {}
    assert camera_input_error(None, None, None, {"skeleton_error_m": [0.0]}) == {}
    own = tmp_path / "predictor.yaml"
    own.write_text("predictor:\n  ros__parameters:\n    input_error_m: [0.1]\n")
    assert camera_input_error(own, None, None, None) == {}
    assert camera_input_error(None, None, None, {"skeleton_error_m": [0.2]}) == {
        "input_error_m": [0.2]}
