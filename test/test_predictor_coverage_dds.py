"""The predictor node over real DDS reports on /diagnostics how often people ended up inside
the radius it published, once their future arrived."""

import os
from contextlib import contextmanager
import threading

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from nermo_ros.data.pybullet_clips import load_clip  # noqa: E402
from nermo_ros.msg import HumanForecastArray, Skeleton3DArray  # noqa: E402
from nermo_ros.nodes.diagnostics import status_values  # noqa: E402
from nermo_ros.nodes.msg_convert import ns_to_stamp, skeleton_array_msg  # noqa: E402
from nermo_ros.nodes.predictor_node import PredictorNode  # noqa: E402
from nermo_ros.predictors.base import ForecastBatch  # noqa: E402
from nermo_ros.predictors.baselines import last_sightings  # noqa: E402
from nermo_ros.skeleton import NUM_JOINTS  # noqa: E402
from waiting import wait_for  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_ID = 41 + os.getpid() % 10  # domains 41-50: its own, for parallel test runs
HORIZONS_S = [0.1, 0.2]
FRAME_NS = 40_000_000  # 25 Hz
START_NS = 1_700_000_000_000_000_000
RADIUS_M = 0.15


class StandStill:
    """Forecasts everyone where last seen, inside a fixed radius it claims is calibrated."""

    name, model_id, backend_description, fallback_reason = "stand_still", "", "numpy", ""
    radius_coverage = 0.9

    def predict(self, batch, horizons_s):
        _, last_m = last_sightings(batch)
        shape = (len(last_m), len(horizons_s), NUM_JOINTS)
        positions = np.broadcast_to(last_m[:, None], shape + (3,)).astype(np.float32)
        return ForecastBatch(positions, np.full(shape, RADIUS_M / 2.5, np.float32),
                             np.full(shape, RADIUS_M, np.float32), self.radius_coverage)

    def reset_track(self, track_id):
        pass


@contextmanager
def node_under_test(node_factory, name: str):
    """The predictor node and a test node spinning together; yields (node, test node,
    skeleton publisher, received forecasts). ROS is initialised and shut down around it."""
    rclpy.init(domain_id=DOMAIN_ID)
    node = node_factory()
    test = rclpy.create_node(name)
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    publisher = test.create_publisher(Skeleton3DArray, "skeletons", reliable)
    forecasts = []
    test.create_subscription(HumanForecastArray, "human_forecast", forecasts.append, reliable)
    executor = SingleThreadedExecutor()
    for each in (node, test):
        executor.add_node(each)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        wait_for(lambda: publisher.get_subscription_count() >= 1)
        yield node, test, publisher, forecasts
    finally:
        executor.shutdown()
        for each in (node, test):
            each.destroy_node()
        rclpy.shutdown()


def test_diagnostics_report_the_live_coverage_of_a_walker_forecast_to_stand_still():
    def make_node():
        return PredictorNode(overrides={
            "horizons_s": HORIZONS_S, "input_reliability": "reliable", "input_queue_depth": 100,
            "max_stamp_age_s": 0.0, "max_stamp_ahead_s": 0.0, "diagnostics_period_s": 0.1,
            "coverage_window_frames": 20, "warm_up": False, "track_record": False},
            predictor=StandStill())  # the track record would hand it to constant velocity

    with node_under_test(make_node, "coverage_test") as (node, test, publisher, forecasts):
        reports = []
        test.create_subscription(DiagnosticArray, "/diagnostics", lambda msg: reports.extend(
            status_values(s) for s in msg.status if s.name.startswith("predictor")), 10)
        pose = load_clip().positions_m[0]
        confident = np.ones(NUM_JOINTS, np.float32)
        frames = 40
        for frame in range(frames):  # gliding along x at 1 m/s
            moved = pose + np.array([frame * FRAME_NS * 1e-9, 0.0, 0.0])
            header = Header(stamp=ns_to_stamp(START_NS + frame * FRAME_NS), frame_id="map")
            publisher.publish(skeleton_array_msg(header, {"walker": (moved, confident)}))
        wait_for(lambda: len(forecasts) == frames)
        count = len(reports)
        wait_for(lambda: len(reports) > count)
        values = reports[-1]
    # 0.1 m walked by 0.1 s is inside 0.15 m; 0.2 m by 0.2 s is not
    assert values["coverage_live_100ms"] == "1.000" and values["coverage_live_200ms"] == "0.000"
    assert values["coverage_live"] == "0.500" and values["coverage_stated"] == "0.900"
    assert values["coverage_live_frames"] == "20"  # the latest 20 of the 34 frames scored
    assert values["coverage_live_scored"] == str(20 * 2 * NUM_JOINTS)
    assert values["radius_live_mean_m_200ms"] == "0.150"


def publish_still_person(publisher, frames: int) -> None:
    """One person standing in the clip's first pose, ``frames`` frames at 25 Hz."""
    pose = load_clip().positions_m[0]
    for frame in range(frames):
        header = Header(stamp=ns_to_stamp(START_NS + frame * FRAME_NS), frame_id="map")
        publisher.publish(skeleton_array_msg(header, {"p": (pose, np.ones(NUM_JOINTS,
                                                                           np.float32))}))


def test_the_shipped_model_publishes_its_calibrated_radius_and_says_so_on_diagnostics():
    def make_node():
        return PredictorNode(overrides={
            "backend": "torch", "horizons_s": HORIZONS_S, "input_reliability": "reliable",
            "input_queue_depth": 100, "max_stamp_age_s": 0.0, "max_stamp_ahead_s": 0.0,
            "warm_up": False})

    with node_under_test(make_node, "calibrated_radius_test") as (node, _, publisher,
                                                                   forecasts):
        status = node.report().values
        publish_still_person(publisher, frames=3)
        wait_for(lambda: len(forecasts) == 3, timeout_s=30.0)
    assert status["coverage_stated"] == 0.9 and "calibrated by" in status["radius"]
    (forecast,) = forecasts[-1].forecasts
    assert forecast.coverage == pytest.approx(0.9)
    radius = np.asarray(forecast.radius_m).reshape(len(HORIZONS_S), NUM_JOINTS)
    assert (radius > 0).all() and (radius[1] > radius[0]).all()  # wider further ahead


def test_the_input_s_own_error_widens_the_published_radius_and_is_reported():
    def make_node():
        return PredictorNode(overrides={
            "horizons_s": HORIZONS_S, "input_reliability": "reliable", "input_queue_depth": 100,
            "max_stamp_age_s": 0.0, "max_stamp_ahead_s": 0.0, "warm_up": False,
            "input_error_m": [0.1]}, predictor=StandStill())

    with node_under_test(make_node, "input_error_test") as (node, _, publisher, forecasts):
        status = node.report().values
        publish_still_person(publisher, frames=3)
        wait_for(lambda: len(forecasts) == 3)
    assert status["radius_input_error_max_m"] == pytest.approx(0.1)
    (forecast,) = forecasts[-1].forecasts
    np.testing.assert_allclose(forecast.radius_m, RADIUS_M + 0.1, rtol=1e-6)
    assert forecast.coverage == pytest.approx(0.9)
