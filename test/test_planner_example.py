"""The worked planner example over real DDS: a recorded walk crosses a robot's path; the
predictor node forecasts it (constant velocity) and the example reports the smallest predicted
clearance per forecast, which is checked against the clearance the walk really left."""

import os
import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Float32, Header  # noqa: E402

from nermo_ros.data.pybullet_clips import load_clip  # noqa: E402
from nermo_ros.examples.min_clearance import MinClearanceExample  # noqa: E402
from nermo_ros.msg import HumanForecastArray, Skeleton3DArray  # noqa: E402
from nermo_ros.nodes.bringup import default_config  # noqa: E402
from nermo_ros.nodes.msg_convert import (forecast_arrays, ns_to_stamp,  # noqa: E402
                                         skeleton_array_msg, stamp_to_ns)
from nermo_ros.nodes.predictor_node import PredictorNode  # noqa: E402
from nermo_ros.skeleton import NUM_JOINTS  # noqa: E402
from waiting import wait_for  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_ID = 31 + os.getpid() % 10  # domains 31-40: its own, for parallel test runs
# Half a second ahead: the constant-velocity sigma stays below half a metre per axis there.
HORIZONS_S = [0.1, 0.2, 0.3, 0.4, 0.5]
START_S = 1_700_000_000  # the walk's first frame and the robot path's start, ROS time
ROBOT_RADIUS_M = 0.3
# The walker goes along +x at about 1 m/s from x = 0; the robot crosses its way at x = 2 m,
# going along +y at 1 m/s from y = -2 m: both reach (2, 0) about 2 s after the start.
WAYPOINTS = [0.0, 2.0, -2.0, 4.0, 2.0, 2.0]


def robot_xy(times_s: np.ndarray) -> np.ndarray:
    """(H,) seconds after the start -> (H, 2): the waypoints joined by straight lines."""
    return np.stack([np.interp(times_s, WAYPOINTS[0::3], WAYPOINTS[1::3]),
                     np.interp(times_s, WAYPOINTS[0::3], WAYPOINTS[2::3])], axis=-1)


def planar_gap_m(joints_m: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """(H, J, >=2) joints at (H,) times -> (H, J) distance in the plane to the robot's disc."""
    return np.linalg.norm(joints_m[..., :2] - robot_xy(times_s)[:, None], axis=-1) \
        - ROBOT_RADIUS_M


def walk_at(clip, times_s: np.ndarray) -> np.ndarray:
    """The recorded joints at (H,) times, linearly between frames -> (H, J, 3)."""
    flat = clip.positions_m.reshape(clip.num_frames, -1)
    return np.stack([np.interp(times_s, clip.times_s, column) for column in flat.T],
                    axis=-1).reshape(len(times_s), NUM_JOINTS, 3)


@dataclass(frozen=True)
class Answer:
    """One forecast array and the clearance the example answered it with."""

    stamp_s: float  # after the start
    reported_m: float
    from_forecast_m: float  # the forecast's own gap: predicted joints less their radius
    true_m: float | None  # the gap the walk left at the same times; None past the recording
    largest_radius_m: float


@pytest.fixture(scope="module")
def crossing():
    """Each frame of the walk in turn through the predictor node and the example."""
    rclpy.init(domain_id=DOMAIN_ID)
    clip = load_clip(cycles=4)
    predictor = PredictorNode(default_config("predictor.yaml"), {
        "predictor": "constant_velocity", "input_reliability": "reliable",
        "input_queue_depth": 10, "horizons_s": HORIZONS_S, "max_stamp_age_s": 0.0,
        "max_stamp_ahead_s": 0.0})
    example = MinClearanceExample(overrides={
        "waypoints": WAYPOINTS, "path_start_s": float(START_S),
        "robot_radius_m": ROBOT_RADIUS_M})
    test = rclpy.create_node("planner_example_test")
    reliable = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
    publisher = test.create_publisher(Skeleton3DArray, "skeletons", reliable)
    forecasts, clearances = [], []
    test.create_subscription(HumanForecastArray, "human_forecast", forecasts.append, reliable)
    test.create_subscription(Float32, "min_clearance_m", clearances.append, reliable)
    executor = SingleThreadedExecutor()
    for node in (predictor, example, test):
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        wait_for(lambda: publisher.get_subscription_count()
                 and test.count_publishers("min_clearance_m")
                 and example.count_publishers("human_forecast"))
        confident = np.ones(NUM_JOINTS, np.float32)
        for number, (time_s, pose) in enumerate(zip(clip.times_s, clip.positions_m)):
            stamp_ns = START_S * 1_000_000_000 + round(time_s * 1e9)
            publisher.publish(skeleton_array_msg(
                Header(stamp=ns_to_stamp(stamp_ns), frame_id="map"),
                {"body_0": (pose, confident)}))
            # In step: each clearance answers the forecast array before it.
            wait_for(lambda: len(clearances) == number + 1 and len(forecasts) == number + 1)
    finally:
        executor.shutdown()
        for node in (predictor, example, test):
            node.destroy_node()
        rclpy.shutdown()
    assert not forecasts[0].forecasts and clearances[0].data == np.inf  # one frame: nobody yet
    return clip, [answer(clip, array, clearance.data)
                  for array, clearance in zip(forecasts[1:], clearances[1:])]


def answer(clip, array: HumanForecastArray, reported_m: float) -> Answer:
    (person,) = map(forecast_arrays, array.forecasts)
    stamp_s = (stamp_to_ns(array.header.stamp) - START_S * 1_000_000_000) * 1e-9
    times_s = stamp_s + person.time_offsets_s.astype(np.float64)
    radius_m = person.radius_m
    from_forecast = (planar_gap_m(person.positions_m, times_s) - radius_m).min()
    true = planar_gap_m(walk_at(clip, times_s), times_s).min()
    return Answer(stamp_s, reported_m, float(from_forecast),
                  float(true) if times_s[-1] <= clip.times_s[-1] else None,
                  float(radius_m.max()))


def test_each_forecast_array_is_answered_with_its_gap_less_its_radius(crossing):
    clip, answers = crossing
    assert len(answers) == clip.num_frames - 1
    for a in answers:
        assert a.reported_m == pytest.approx(a.from_forecast_m, abs=1e-4)


def test_the_reported_clearance_is_the_true_one_less_at_most_two_radii(crossing):
    clip, answers = crossing
    scored = [a for a in answers if a.true_m is not None]
    assert len(scored) > 100
    for a in scored:
        # The forecast errs by less than its keep-out radius, so the gap it reports is never
        # more than the true one, and less by at most the radius and the error.
        assert a.true_m - 2 * a.largest_radius_m <= a.reported_m <= a.true_m


def test_the_crossing_is_reported_before_the_walker_meets_the_robot(crossing):
    clip, answers = crossing
    gap_now_m = planar_gap_m(clip.positions_m, clip.times_s).min(axis=1)
    met_s = clip.times_s[np.argmax(gap_now_m < 0.0)]
    assert gap_now_m.min() < 0.0 and 1.5 < met_s < 2.5  # a collision course, as set up
    warned_s = next(a.stamp_s for a in answers if a.reported_m < 0.0)
    assert warned_s < met_s - 0.5  # seen coming half a second ahead or more
    # Before the walker comes near, and once it has gone by, the path is clear.
    assert answers[0].reported_m > 0.3 and answers[-1].reported_m > 0.3
