"""Messages <-> arrays round trips (through real CDR serialisation) and markers."""

import numpy as np
import pytest

pytest.importorskip("rclpy")
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from nermo_ros.msg import HumanForecastArray  # noqa: E402
from nermo_ros.nodes.markers import skeleton_markers  # noqa: E402
from nermo_ros.nodes.msg_convert import (forecast_array_msg, forecast_arrays,  # noqa: E402
                                         ns_to_stamp, skeleton_array_msg, skeleton_fields,
                                         stamp_to_ns)
from nermo_ros.predictors.base import ForecastBatch  # noqa: E402
from nermo_ros.skeleton import BONES, JOINT_INDEX, LAYOUT_ID, NUM_JOINTS  # noqa: E402

pytestmark = pytest.mark.ros
STAMP_NS = 1_795_000_000_123_456_789


def through_the_wire(msg):
    return deserialize_message(serialize_message(msg), type(msg))


def test_stamps_convert_to_nanoseconds_and_back_exactly():
    stamp = ns_to_stamp(STAMP_NS)
    assert (stamp.sec, stamp.nanosec) == (1_795_000_000, 123_456_789)
    assert stamp_to_ns(stamp) == STAMP_NS


def test_skeleton_arrays_survive_a_round_trip_in_joint_major_order():
    rng = np.random.default_rng(0)
    positions = rng.normal(size=(NUM_JOINTS, 3)).astype(np.float32)
    confidence = rng.uniform(size=NUM_JOINTS).astype(np.float32)
    header = Header(stamp=ns_to_stamp(STAMP_NS), frame_id="camera_link")
    msg = through_the_wire(skeleton_array_msg(header, {"body_7": (positions, confidence)}))
    (skeleton,) = msg.skeletons
    assert skeleton.track_id == "body_7" and skeleton.layout == LAYOUT_ID
    flat, conf = skeleton_fields(skeleton)
    np.testing.assert_array_equal(flat.reshape(NUM_JOINTS, 3), positions)
    assert flat[3:6].tolist() == positions[1].tolist()  # joint 1's x, y, z
    np.testing.assert_array_equal(conf, confidence)
    assert stamp_to_ns(msg.header.stamp) == STAMP_NS


def test_forecasts_survive_a_round_trip_per_track():
    horizons = np.array([0.1, 0.5])
    positions = np.arange(2 * 2 * NUM_JOINTS * 3, dtype=np.float32).reshape(2, 2, NUM_JOINTS, 3)
    sigma = np.arange(2 * 2 * NUM_JOINTS, dtype=np.float32).reshape(2, 2, NUM_JOINTS)
    header = Header(stamp=ns_to_stamp(STAMP_NS), frame_id="world")
    msg = through_the_wire(forecast_array_msg(header, ["a", "b"], ForecastBatch(positions, sigma),
                                              horizons, "constant_velocity", ""))
    assert isinstance(msg, HumanForecastArray) and len(msg.forecasts) == 2
    second = forecast_arrays(msg.forecasts[1])
    assert second.track_id == "b" and second.stamp_ns == STAMP_NS
    np.testing.assert_allclose(second.time_offsets_s, horizons)
    np.testing.assert_array_equal(second.positions_m, positions[1])
    np.testing.assert_array_equal(second.uncertainty_m, sigma[1])
    assert msg.forecasts[0].layout == LAYOUT_ID and msg.forecasts[0].predictor == \
        "constant_velocity"


def test_the_radius_and_its_coverage_survive_a_round_trip_horizon_major():
    positions = np.zeros((1, 2, NUM_JOINTS, 3), np.float32)
    radius = np.arange(2 * NUM_JOINTS, dtype=np.float32).reshape(1, 2, NUM_JOINTS) / 100
    header = Header(stamp=ns_to_stamp(STAMP_NS), frame_id="world")
    msg = through_the_wire(forecast_array_msg(
        header, ["a"], ForecastBatch(positions, radius / 2.5, radius, 0.9), np.array([0.1, 0.5]),
        "nermo", "abc"))
    (forecast,) = msg.forecasts
    assert forecast.coverage == pytest.approx(0.9)
    assert forecast.radius_m[NUM_JOINTS] == pytest.approx(radius[0, 1, 0])  # offset 1, joint 0
    record = forecast_arrays(forecast)
    np.testing.assert_array_equal(record.radius_m, radius[0])
    assert record.coverage == pytest.approx(0.9)


def test_a_forecast_without_a_radius_reads_back_with_none_and_coverage_0():
    msg = through_the_wire(forecast_array_msg(
        Header(), ["a"], ForecastBatch(np.zeros((1, 2, NUM_JOINTS, 3)), np.ones((1, 2, NUM_JOINTS))),
        np.array([0.1, 0.2]), "x", ""))
    record = forecast_arrays(msg.forecasts[0])
    assert record.radius_m is None and record.coverage == 0.0


def test_a_forecast_with_inconsistent_lengths_is_refused():
    header = Header()
    msg = forecast_array_msg(header, ["a"], ForecastBatch(np.zeros((1, 2, NUM_JOINTS, 3)),
                                                          np.zeros((1, 2, NUM_JOINTS))),
                             np.array([0.1, 0.2]), "x", "")
    msg.forecasts[0].time_offsets_s.append(0.3)
    with pytest.raises(ValueError, match="3 offsets but 102 positions, 34 uncertainties and 0 "
                                         "radii"):
        forecast_arrays(msg.forecasts[0])


def test_markers_draw_known_bones_only_and_one_skeleton_per_horizon():
    positions = np.zeros((NUM_JOINTS, 3))
    known = np.ones(NUM_JOINTS, bool)
    known[JOINT_INDEX["left_wrist"]] = False  # hides the elbow-wrist bone
    predicted = np.zeros((3, NUM_JOINTS, 3))
    header = Header(frame_id="world")
    markers = skeleton_markers(header, {"a": (positions, known)}, {"a": predicted},
                               np.array([0.1, 0.4, 1.0])).markers
    assert markers[0].action == Marker.DELETEALL
    observed, *future = markers[1:]
    assert len(observed.points) == 2 * (len(BONES) - 1)
    assert len(future) == 3 and all(len(m.points) == 2 * len(BONES) for m in future)
    assert future[0].color.a > future[-1].color.a  # the far future is fainter


def test_markers_draw_a_sphere_of_the_radius_around_each_joint_at_the_chosen_horizon():
    positions = np.zeros((NUM_JOINTS, 3))
    known = np.ones(NUM_JOINTS, bool)
    predicted = np.arange(3 * NUM_JOINTS * 3, dtype=float).reshape(3, NUM_JOINTS, 3)
    radius = np.linspace(0.1, 0.5, 3 * NUM_JOINTS).reshape(3, NUM_JOINTS)
    horizons = np.array([0.1, 0.4, 1.0])
    header = Header(frame_id="world")
    markers = skeleton_markers(header, {"a": (positions, known)}, {"a": predicted}, horizons,
                               radii={"a": radius}, radius_horizon_s=0.5).markers
    spheres = [m for m in markers if m.type == Marker.SPHERE]
    assert len(spheres) == NUM_JOINTS and {m.ns for m in spheres} == {"radius/a/0.40s"}
    elbow = JOINT_INDEX["left_elbow"]
    sphere = next(m for m in spheres if m.id == elbow)
    assert sphere.scale.x == pytest.approx(2 * radius[1, elbow])  # a diameter
    assert (sphere.pose.position.x, sphere.pose.position.z) == (predicted[1, elbow, 0],
                                                                predicted[1, elbow, 2])
    every = skeleton_markers(header, {"a": (positions, known)}, {"a": predicted}, horizons,
                             radii={"a": radius}, radius_horizon_s=0.0).markers
    assert sum(m.type == Marker.SPHERE for m in every) == 3 * NUM_JOINTS
