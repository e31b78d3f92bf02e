"""The planner outputs over real DDS: a recorded walk through the forecasting core (constant
velocity) and ``PlannerOutputs``; a subscriber on another node receives the REP-155 body ids,
the TF frames, /people and each person's forecast path with the frames' stamps and ids."""

import os
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
hri_msgs = pytest.importorskip("hri_msgs.msg")
from nav_msgs.msg import Path  # noqa: E402
from people_msgs.msg import People  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402

from nermo_ros.data.pybullet_clips import load_clip  # noqa: E402
from nermo_ros.forecasting.core import ForecastCore  # noqa: E402
from nermo_ros.forecasting.settings import settings_from  # noqa: E402
from nermo_ros.nodes.msg_convert import (ns_to_stamp, people_arrays,  # noqa: E402
                                         skeleton_array_msg, stamp_to_ns)
from nermo_ros.nodes.planner_outputs import PlannerOutputs  # noqa: E402
from nermo_ros.planning.frames import mid_hip_m  # noqa: E402
from nermo_ros.predictors.baselines import ConstantVelocityPredictor  # noqa: E402
from nermo_ros.skeleton import JOINT_NAMES, NUM_JOINTS  # noqa: E402
from waiting import wait_for  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_ID = 21 + os.getpid() % 10  # domains 21-30: its own, for parallel test runs
HORIZONS_S = [0.2, 0.4, 1.0]
FRAME_ID = "camera_link"
START_NS = 1_700_000_000_000_000_000
BESIDE_M = np.array([0.0, 2.0, 0.0])  # body_1 walks the same walk 2 m to the walker's left


class Receiver:
    """A node on its own executor thread that keeps every message of each output topic."""

    def __init__(self, path_topics):
        self.node = rclpy.create_node("planner_output_receiver")
        self.received = {name: [] for name in ("ids", "tf", "people", *path_topics)}
        self.node.create_subscription(hri_msgs.IdsList, "/humans/bodies/tracked",
                                      self.received["ids"].append, 100)
        self.node.create_subscription(TFMessage, "/tf", self.received["tf"].append, 100)
        self.node.create_subscription(People, "/people", self.received["people"].append, 100)
        for topic in path_topics:
            self.node.create_subscription(Path, topic, self.received[topic].append, 100)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


class Sender:
    """The predictor's side: the forecasting core and PlannerOutputs on a node of its own."""

    def __init__(self, name: str = "planner_output_sender", **overrides):
        self.settings = settings_from({"predictor": "constant_velocity",
                                       "horizons_s": HORIZONS_S, "track_timeout_s": 0.5,
                                       "publish_joint_tf": True})
        self.core = ForecastCore(ConstantVelocityPredictor(), self.settings)
        self.node = rclpy.create_node(name)
        self.outputs = PlannerOutputs(self.node, {**self.settings.as_params(), **overrides})

    def frame(self, stamp_ns: int, people: dict) -> None:
        """One input frame of ``people`` (track id -> (J, 3) positions) through the core."""
        header = Header(stamp=ns_to_stamp(stamp_ns), frame_id=FRAME_ID)
        msg = skeleton_array_msg(header, {track_id: (pose, np.ones(NUM_JOINTS, np.float32))
                                          for track_id, pose in people.items()})
        result = self.core.process(stamp_ns, people_arrays(msg))
        self.outputs.publish(header, result.track_ids, result.forecast, self.core)

    def close(self):
        self.outputs.destroy()
        self.node.destroy_node()


@pytest.fixture(scope="module")
def walk():
    """A recorded walk along +x through the core and the outputs; what a subscriber got."""
    rclpy.init(domain_id=DOMAIN_ID)
    clip = load_clip(cycles=2)
    paths = ["/humans/bodies/body_0/forecast_path", "/humans/bodies/body_1/forecast_path"]
    receiver, sender = Receiver(paths), Sender()
    wait_for(lambda: all(receiver.node.count_publishers(t) for t in
                         ("/humans/bodies/tracked", "/tf", "/people")))
    stamps_ns = [START_NS + round(t * 1e9) for t in clip.times_s]
    # The path publishers appear with the first forecast; the frames before the subscriber
    # matched them are sent again (from the start: the core starts the people over).
    sender.frame(stamps_ns[0], {"body_0": clip.positions_m[0]})
    sender.frame(stamps_ns[1], {"body_0": clip.positions_m[1]})
    wait_for(lambda: receiver.node.count_publishers(paths[0]))
    yield clip, stamps_ns, receiver, sender, paths
    receiver.close()
    sender.close()
    rclpy.shutdown()


@pytest.fixture(scope="module")
def received(walk):
    clip, stamps_ns, receiver, sender, paths = walk
    both = [{"body_0": pose, "body_1": pose + BESIDE_M} for pose in clip.positions_m]
    sender.frame(stamps_ns[2], both[2])
    sender.frame(stamps_ns[3], both[3])  # body_1's second frame: its first forecast
    wait_for(lambda: receiver.node.count_publishers(paths[1]))
    for stamp_ns, people in zip(stamps_ns[4:], both[4:]):
        sender.frame(stamp_ns, people)
    last_ns = stamps_ns[-1]
    wait_for(lambda: all(any(stamp_to_ns(m.header.stamp) == last_ns for m in receiver.received[n])
                         for n in ("ids", "people", *paths)))
    wait_for(lambda: any(t.header.stamp == ns_to_stamp(last_ns)
                         for m in receiver.received["tf"] for t in m.transforms))
    return receiver.received


def at_stamp(messages, stamp_ns):
    return next(m for m in messages if stamp_to_ns(m.header.stamp) == stamp_ns)


def test_tracked_body_ids_come_once_per_frame_with_its_stamp(walk, received):
    clip, stamps_ns, *_ = walk
    by_stamp = {stamp_to_ns(m.header.stamp): m for m in received["ids"]}
    assert set(stamps_ns[2:]) <= set(by_stamp)
    assert all(by_stamp[s].ids == ["body_0", "body_1"] for s in stamps_ns[2:])
    assert all(m.header.frame_id == FRAME_ID for m in received["ids"])


def transforms_at(received, stamp_ns):
    """child frame -> TransformStamped of every /tf message with that stamp."""
    return {t.child_frame_id: t for m in received["tf"] for t in m.transforms
            if stamp_to_ns(t.header.stamp) == stamp_ns}


def test_each_body_has_a_mid_hip_frame_and_its_joint_frames_on_tf(walk, received):
    clip, stamps_ns, *_ = walk
    index = len(stamps_ns) - 1
    frames = transforms_at(received, stamps_ns[index])
    for body_id, offset in (("body_0", 0.0), ("body_1", BESIDE_M)):
        body = frames[f"body_{body_id}"]
        assert body.header.frame_id == FRAME_ID
        t = body.transform.translation
        np.testing.assert_allclose([t.x, t.y, t.z], mid_hip_m(clip.positions_m[index] + offset),
                                   atol=1e-5)
        for name in JOINT_NAMES:
            assert frames[f"{name}_{body_id}"].header.frame_id == f"body_{body_id}"
    # The head sits above the mid-hip: z up in the body frame.
    assert frames["head_body_0"].transform.translation.z > 0.4


def test_the_forecast_frames_are_named_as_predictions_and_lead_the_walker(walk, received):
    clip, stamps_ns, *_ = walk
    index = len(stamps_ns) - 1
    frames = transforms_at(received, stamps_ns[index])
    ahead = frames["body_body_0_forecast_400ms"]
    assert ahead.header.frame_id == FRAME_ID
    assert frames["head_body_0_forecast_400ms"].header.frame_id == "body_body_0_forecast_400ms"
    now = frames["body_body_0"].transform.translation
    # The walk goes along +x at about 1 m/s: 0.4 s ahead is about 0.4 m further on.
    assert ahead.transform.translation.x - now.x == pytest.approx(0.4, abs=0.15)
    assert not any(name.endswith(("_forecast_200ms", "_forecast_1000ms")) for name in frames)


def test_people_carry_each_persons_position_velocity_and_reliability(walk, received):
    clip, stamps_ns, *_ = walk
    index = len(stamps_ns) - 1
    people = at_stamp(received["people"], stamps_ns[index])
    assert people.header.frame_id == FRAME_ID
    assert [p.name for p in people.people] == ["body_0", "body_1"]
    walker = people.people[0]
    np.testing.assert_allclose([walker.position.x, walker.position.y, walker.position.z],
                               mid_hip_m(clip.positions_m[index]), atol=1e-5)
    assert walker.velocity.x == pytest.approx(1.0, abs=0.3)  # the walk's pace
    assert abs(walker.velocity.y) < 0.3
    assert walker.reliability == 1.0 and list(walker.tags) == ["body_0"]


def test_each_person_has_a_forecast_path_with_a_pose_at_each_horizon(walk, received):
    clip, stamps_ns, receiver, sender, paths = walk
    stamp_ns = stamps_ns[-1]
    for topic in paths:
        path = at_stamp(received[topic], stamp_ns)
        assert path.header.frame_id == FRAME_ID
        assert [stamp_to_ns(p.header.stamp) - stamp_ns for p in path.poses] == [
            round(h * 1e9) for h in HORIZONS_S]
        assert all(p.header.frame_id == FRAME_ID for p in path.poses)
        xs = [p.pose.position.x for p in path.poses]
        assert xs == sorted(xs)  # walking on along +x
    beside = at_stamp(received[paths[1]], stamp_ns).poses[0].pose.position.y
    assert beside == pytest.approx(at_stamp(received[paths[0]], stamp_ns).poses[0].pose.position.y
                                   + 2.0, abs=1e-4)


def test_a_body_left_out_of_one_frame_stays_tracked_without_frames_of_its_own(walk, received):
    """body_1's skeleton glitches for one frame (a wrist 1.5 m off): held back, it is not in
    that frame's /tf or /people, but still in /humans/bodies/tracked (no lost-and-found)."""
    clip, stamps_ns, receiver, sender, paths = walk
    glitch_ns = stamps_ns[-1] + 33_000_000
    glitched = clip.positions_m[-1] + BESIDE_M
    glitched[JOINT_NAMES.index("left_wrist")] += 1.5
    sender.frame(glitch_ns, {"body_0": clip.positions_m[-1], "body_1": glitched})
    wait_for(lambda: all(any(stamp_to_ns(m.header.stamp) == glitch_ns for m in receiver.received[n])
                         for n in ("ids", "people")))
    assert at_stamp(receiver.received["ids"], glitch_ns).ids == ["body_0", "body_1"]
    assert [p.name for p in at_stamp(receiver.received["people"], glitch_ns).people] == ["body_0"]
    assert sender.core.counts["jump_held"] == 1


def test_a_forgotten_body_loses_its_path_publisher_and_its_id(walk, received):
    clip, stamps_ns, receiver, sender, paths = walk
    later_ns = stamps_ns[-1] + 2_000_000_000  # past track_timeout_s for body_1
    sender.frame(later_ns, {"body_0": clip.positions_m[-1] + [2.0, 0.0, 0.0]})
    wait_for(lambda: receiver.node.count_publishers(paths[1]) == 0)
    wait_for(lambda: any(stamp_to_ns(m.header.stamp) == later_ns for m in receiver.received["ids"]))
    assert at_stamp(receiver.received["ids"], later_ns).ids == ["body_0"]
    assert receiver.node.count_publishers(paths[0]) == 1


def test_an_output_switched_off_has_no_publisher(walk):
    clip, stamps_ns, receiver, sender, paths = walk
    node = rclpy.create_node("planner_outputs_people_only")
    outputs = PlannerOutputs(node, {"horizons_s": HORIZONS_S, "publish_hri_ids": False,
                                    "publish_body_tf": False, "publish_forecast_paths": False})
    try:
        published = {name for name, _ in node.get_publisher_names_and_types_by_node(
            node.get_name(), "/")}
        assert "/people" in published
        assert not {"/tf", "/humans/bodies/tracked"} & published
    finally:
        outputs.destroy()
        node.destroy_node()


def test_without_joint_frames_tf_holds_only_the_body_frames(walk, received):
    clip, stamps_ns, receiver, sender, paths = walk
    bodies_only = Sender("planner_output_bodies_only", publish_joint_tf=False, publish_hri_ids=False, publish_people=False,
                         publish_forecast_paths=False)
    try:
        stamp_ns = stamps_ns[-1] + 10_000_000_000  # a stamp of its own, after the walk
        wait_for(lambda: receiver.node.count_publishers("/tf") >= 2)
        for k in range(2):  # two frames: the second one is forecast
            bodies_only.frame(stamp_ns + k * 33_000_000, {"body_0": clip.positions_m[k]})
        wait_for(lambda: transforms_at(receiver.received, stamp_ns + 33_000_000))
        assert sorted(transforms_at(receiver.received, stamp_ns + 33_000_000)) == [
            "body_body_0", "body_body_0_forecast_400ms"]
    finally:
        bodies_only.close()
