"""Bags over real DDS: replay into a real subscriber (timing, content, /clock, remapping,
offset, loop), record live topics into a bag, and live evaluation through the predictor node
agreeing with the offline evaluation."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

# One DDS domain per test process, so engineers running tests at once do not cross-talk.
os.environ["ROS_DOMAIN_ID"] = str(30 + os.getpid() % 90)
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

rclpy = pytest.importorskip("rclpy")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from nermo_ros.bag import convert, evaluate, io  # noqa: E402
from nermo_ros.bag.timing import ReplaySettings  # noqa: E402
from nermo_ros.data.pybullet_clips import load_clip  # noqa: E402
from nermo_ros.msg import Skeleton3DArray  # noqa: E402
from nermo_ros.bag.live import evaluate_live  # noqa: E402
from nermo_ros.bag.player import BagPlayer  # noqa: E402
from nermo_ros.bag.recorder import BagRecorder  # noqa: E402
from nermo_ros.nodes.msg_convert import (ns_to_stamp, skeleton_array_msg,  # noqa: E402
                                         skeleton_fields, stamp_to_ns)

pytestmark = pytest.mark.ros
TOPIC = f"/bag_test_{os.getpid()}/skeletons"


@pytest.fixture(scope="module")
def ros():
    owns = not rclpy.ok()  # another module may have left rclpy initialised
    if owns:
        rclpy.init()
    yield
    if owns:
        rclpy.try_shutdown()


@pytest.fixture(scope="module")
def walk_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("bags") / "walk"
    convert.write_skeleton_bag(path, convert.clip_frames(load_clip(cycles=2)), TOPIC)
    return path


class Listener:
    """A real subscriber node that notes every skeleton array and /clock value it receives."""

    def __init__(self, topic: str):
        self.node = rclpy.create_node(f"bag_test_listener_{os.getpid()}")
        self.arrays: list[tuple[float, Skeleton3DArray]] = []
        self.clock_ns: list[int] = []
        qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(Skeleton3DArray, topic,
                                      lambda m: self.arrays.append((time.monotonic(), m)), qos)
        self.node.create_subscription(Clock, "/clock",
                                      lambda m: self.clock_ns.append(stamp_to_ns(m.clock)), qos)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self):
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()


def play(bag, settings: ReplaySettings, listen_on: str):
    listener = Listener(listen_on)
    node = rclpy.create_node(f"bag_test_player_{os.getpid()}")
    try:
        report = io.BagReadReport(str(bag))
        player = BagPlayer(node, io.read_raw(bag, None, report), settings)
        assert player.wait_for_subscribers(1, timeout_s=10.0)
        stats = player.play()
        deadline = time.monotonic() + 3.0
        while len(listener.arrays) < stats.published and time.monotonic() < deadline:
            time.sleep(0.02)
        return listener, stats
    finally:
        listener.close()
        node.destroy_node()


def test_replay_delivers_every_frame_unchanged_at_the_recorded_pace(ros, walk_bag):
    frames, _ = io.read_skeleton_frames(walk_bag)
    listener, stats = play(walk_bag, ReplaySettings(rate=2.0), TOPIC)
    assert stats.published == len(listener.arrays) == len(frames)
    for (_, msg), frame in zip(listener.arrays, frames):
        assert stamp_to_ns(msg.header.stamp) == frame.stamp_ns
        positions, confidence = skeleton_fields(msg.skeletons[0])
        np.testing.assert_array_equal(positions, frame.people[0].positions)
    arrival = np.array([t for t, _ in listener.arrays])
    expected_s = np.diff([f.log_ns for f in frames]) * 1e-9 / 2.0
    assert np.median(np.abs(np.diff(arrival) - expected_s)) < 0.005
    span_s = (frames[-1].log_ns - frames[0].log_ns) * 1e-9 / 2.0
    assert arrival[-1] - arrival[0] == pytest.approx(span_s, rel=0.1, abs=0.05)
    # /clock carries bag time: from the first to the last frame stamp, never beyond
    clock = np.array(listener.clock_ns)
    assert clock.min() >= frames[0].stamp_ns and clock.max() == frames[-1].stamp_ns
    assert np.all(np.diff(clock) >= 0)


def test_replay_remaps_skips_the_start_offset_and_loops(ros, walk_bag):
    frames, _ = io.read_skeleton_frames(walk_bag)
    renamed = f"{TOPIC}_remapped"
    offset_s = 1.0
    # loop=True plays forever: stop it after two passes from another thread
    listener = Listener(renamed)
    node = rclpy.create_node(f"bag_test_loop_player_{os.getpid()}")
    try:
        player = BagPlayer(node, io.read_raw(walk_bag, None, io.BagReadReport("")),
                           ReplaySettings(rate=4.0, start_offset_s=offset_s, loop=True,
                                          remap={TOPIC: renamed}))
        assert player.wait_for_subscribers(1, timeout_s=10.0)
        stats = player.play(should_stop=lambda: player.stats.passes >= 2)
        time.sleep(0.5)
    finally:
        listener.close()
        node.destroy_node()
    kept = [f.stamp_ns for f in frames if f.log_ns >= frames[0].log_ns + offset_s * 1e9]
    received = [stamp_to_ns(m.header.stamp) for _, m in listener.arrays]
    assert stats.passes == 2 and received == kept + kept


def test_recorder_writes_what_it_receives_in_arrival_order_with_original_stamps(ros, walk_bag,
                                                                               tmp_path):
    recorder_node = rclpy.create_node(f"bag_test_recorder_{os.getpid()}")
    executor = SingleThreadedExecutor()
    executor.add_node(recorder_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    player_node = rclpy.create_node(f"bag_test_rec_player_{os.getpid()}")
    frames, _ = io.read_skeleton_frames(walk_bag)
    try:
        player = BagPlayer(player_node, io.read_raw(walk_bag, None, io.BagReadReport("")),
                           ReplaySettings(rate=4.0, clock_hz=0.0))
        with BagRecorder(recorder_node, tmp_path / "recorded", "sqlite3",
                         {TOPIC: "nermo_ros/msg/Skeleton3DArray"}) as recorder:
            spinner.start()
            assert player.wait_for_subscribers(1, timeout_s=10.0)
            player.play()
            deadline = time.monotonic() + 3.0
            while recorder.total < len(frames) and time.monotonic() < deadline:
                time.sleep(0.02)
        executor.shutdown(timeout_sec=2.0)
    finally:
        recorder_node.destroy_node()
        player_node.destroy_node()
    back, report = io.read_skeleton_frames(tmp_path / "recorded")
    assert [f.stamp_ns for f in back] == [f.stamp_ns for f in frames]
    log = np.array([f.log_ns for f in back])
    assert np.all(np.diff(log) > 0)  # arrival order, at arrival times (wall clock here)
    assert abs(log[0] * 1e-9 - time.time()) < 60


def test_the_record_command_started_first_records_a_topic_from_its_first_publisher(ros,
                                                                                   tmp_path):
    topic, count = f"/bag_test_{os.getpid()}/late", 20
    recording = subprocess.Popen(
        [sys.executable, "-m", "nermo_ros.cli", "bag", "record", str(tmp_path / "late"),
         "--topics", topic, "--discovery-timeout-s", "0.5", "--max-messages", str(count),
         "--duration-s", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    node = rclpy.create_node(f"bag_test_late_publisher_{os.getpid()}")
    try:
        time.sleep(4.0)  # the recorder has started, with no publisher of the topic
        publisher = node.create_publisher(
            Skeleton3DArray, topic, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        deadline = time.monotonic() + 30.0
        while publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert publisher.get_subscription_count() == 1
        frames = convert.clip_frames(load_clip())[:count]
        for frame in frames:
            publisher.publish(skeleton_array_msg(
                Header(stamp=ns_to_stamp(frame.stamp_ns), frame_id=frame.frame_id),
                {p.track_id: (p.positions.reshape(-1, 3), p.confidence) for p in frame.people}))
            time.sleep(0.02)
        out, err = recording.communicate(timeout=60)
    finally:
        recording.kill()
        node.destroy_node()
    assert recording.returncode == 0, out + err
    assert f"no publisher for {topic} yet" in out and f"recording {topic} too" in out
    back, _ = io.read_skeleton_frames(tmp_path / "late")
    assert [f.stamp_ns for f in back] == [f.stamp_ns for f in frames]


def test_the_record_command_that_received_nothing_says_so_and_fails(ros, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nermo_ros.cli", "bag", "record", str(tmp_path / "empty"),
         "--topics", f"/bag_test_{os.getpid()}/nobody", "--discovery-timeout-s", "0.2",
         "--duration-s", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no message arrived on" in result.stdout and "nobody" in result.stdout


@pytest.mark.parametrize("predictor", ["constant_velocity",
                                       pytest.param("nermo", marks=pytest.mark.slow)])
def test_live_evaluation_through_the_predictor_node_agrees_with_offline(ros, walk_bag,
                                                                        predictor):
    data = evaluate.load_input(walk_bag, overrides={"predictor": predictor})
    offline, offline_records = evaluate.evaluate_offline(data)
    live, records = evaluate_live(data, rate=2.0)
    # The same core on both sides: the same forecast for every frame and person.
    by_frame = {(r.track_id, r.stamp_ns): r for r in offline_records}
    assert sorted(by_frame) == sorted((r.track_id, r.stamp_ns) for r in records)
    for record in records:
        twin = by_frame[(record.track_id, record.stamp_ns)]
        np.testing.assert_array_equal(record.positions_m, twin.positions_m)
        np.testing.assert_array_equal(record.uncertainty_m, twin.uncertainty_m)
        np.testing.assert_array_equal(record.radius_m, twin.radius_m)
        assert np.float32(record.coverage) == np.float32(twin.coverage)  # float32 on the wire
        assert record.predictor == twin.predictor  # with any baseline the track record took
    assert live.scores.inputs_forecast == offline.scores.inputs_forecast > 0
    np.testing.assert_allclose(live.scores.mpjpe_by_horizon_m,
                               offline.scores.mpjpe_by_horizon_m, atol=1e-3)  # 1 mm
    assert live.latency_s and all(latency > 0 for latency in live.latency_s)
    assert {r.predictor.split(";")[0] for r in records} == {predictor}
