"""The planner outputs as arrays, without ROS: body frames, people, paths, clearance, settings."""

import numpy as np
import pytest

from nermo_ros.data.pybullet_clips import load_clip
from nermo_ros.planning.clearance import person_clearance_m, robot_path
from nermo_ros.planning.frames import (body_frames, facing_yaw_rad, forecast_suffix,
                                       hri_body_id, in_body_axes, mid_hip_m)
from nermo_ros.planning.paths import forecast_path
from nermo_ros.planning.people import person_states
from nermo_ros.planning.radius import keep_out_radius_m
from nermo_ros.planning.settings import planner_output_settings
from nermo_ros.skeleton import JOINT_INDEX, NUM_JOINTS

HORIZONS_S = np.array([0.2, 0.4, 1.0])


def turned(positions_m: np.ndarray, yaw_rad: float) -> np.ndarray:
    """A skeleton turned by ``yaw_rad`` about the vertical axis through the origin."""
    cos, sin = np.cos(yaw_rad), np.sin(yaw_rad)
    rotation = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    return positions_m @ rotation.T


@pytest.fixture(scope="module")
def walker() -> np.ndarray:
    """The first pose of the recorded walk (it walks along +x, facing +x)."""
    return load_clip().positions_m[0].astype(np.float64)


def test_a_walker_faces_the_way_it_walks(walker):
    assert facing_yaw_rad(walker) == pytest.approx(0.0, abs=np.radians(10))


@pytest.mark.parametrize("yaw_deg", [-150.0, -45.0, 30.0, 90.0, 170.0])
def test_a_walker_turned_by_an_angle_has_a_body_frame_turned_by_that_angle(walker, yaw_deg):
    yaw = np.radians(yaw_deg)
    upright = facing_yaw_rad(walker)
    (frames,) = body_frames(["body_0"], turned(walker, yaw)[None], np.ones((1, NUM_JOINTS), bool))
    assert np.angle(np.exp(1j * (frames.yaw_rad - upright - yaw))) == pytest.approx(0, abs=1e-9)
    # The joints in the body frame do not depend on how the person is turned.
    (still,) = body_frames(["body_0"], walker[None], np.ones((1, NUM_JOINTS), bool))
    np.testing.assert_allclose(frames.joint_offsets_m, still.joint_offsets_m, atol=1e-9)


def test_the_body_frame_sits_at_the_mid_hip_with_joints_at_their_offsets(walker):
    (frames,) = body_frames(["body_0"], walker[None], np.ones((1, NUM_JOINTS), bool))
    hips = walker[[JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]]
    np.testing.assert_allclose(frames.origin_m, hips.mean(axis=0))
    assert frames.body_frame == "body_body_0"
    assert frames.joint_frames[JOINT_INDEX["head"]] == "head_body_0"
    head = frames.joint_offsets_m[JOINT_INDEX["head"]]
    assert head[2] == pytest.approx(walker[JOINT_INDEX["head"], 2] - frames.origin_m[2])
    # The left hip is on the body's left (+y), straight across from the right one.
    left_hip = frames.joint_offsets_m[JOINT_INDEX["left_hip"]]
    assert left_hip[1] > 0.05 and abs(left_hip[0]) < 1e-9


def test_a_body_facing_plus_y_has_its_forward_axis_on_plus_y():
    positions = np.zeros((NUM_JOINTS, 3))
    positions[JOINT_INDEX["left_hip"]] = [-0.1, 0.0, 1.0]  # facing +y, the left is -x
    positions[JOINT_INDEX["right_hip"]] = [0.1, 0.0, 1.0]
    positions[JOINT_INDEX["head"]] = [0.0, 0.3, 1.7]  # a head 0.3 m ahead
    (frames,) = body_frames(["b"], positions[None], np.ones((1, NUM_JOINTS), bool))
    assert frames.yaw_rad == pytest.approx(np.pi / 2)
    np.testing.assert_allclose(frames.joint_offsets_m[JOINT_INDEX["head"]], [0.3, 0.0, 0.7],
                               atol=1e-12)
    np.testing.assert_allclose(in_body_axes(np.array([0.0, 1.0, 0.0]), np.pi / 2),
                               [1.0, 0.0, 0.0], atol=1e-12)


def test_a_body_without_a_hip_has_no_frame_and_its_shoulders_give_the_facing(walker):
    known = np.ones(NUM_JOINTS, bool)
    known[JOINT_INDEX["left_hip"]] = False
    assert body_frames(["body_0", "body_1"], np.stack([walker, walker]),
                       np.stack([known, np.ones(NUM_JOINTS, bool)]))[0] is None
    turned_walker = turned(walker, 1.0)
    assert facing_yaw_rad(turned_walker, known) == pytest.approx(
        facing_yaw_rad(turned_walker), abs=np.radians(15))
    known[[JOINT_INDEX["left_shoulder"]]] = False
    assert facing_yaw_rad(turned_walker, known) == 0.0  # nothing to tell: the parent's axes


def test_body_ids_are_track_ids_that_can_name_a_topic():
    assert [hri_body_id(t) for t in ("body_0", "alice", "a b", "a__b", "7", "-x")] == [
        "body_0", "alice", "a_b", "a_b", "id_7", "id_x"]
    assert forecast_suffix(0.4) == "_forecast_400ms"


def constant_velocity_forecast(now: np.ndarray, velocity: np.ndarray) -> np.ndarray:
    """(B, J, 3) skeletons moving at (B, 3) -> (B, H, J, 3) positions at HORIZONS_S."""
    return now[:, None] + HORIZONS_S[None, :, None, None] * velocity[:, None, None, :]


def test_a_person_moving_steadily_gets_its_position_velocity_and_seen_share(walker):
    now = np.stack([walker, walker + [0.0, 2.0, 0.0]])
    velocity = np.array([[1.2, 0.0, 0.0], [0.0, -0.5, 0.0]])
    known = np.ones((2, NUM_JOINTS), bool)
    known[1, :4] = False
    states = person_states(["body_0", "body_1"], now, known,
                           constant_velocity_forecast(now, velocity), HORIZONS_S)
    assert [s.track_id for s in states] == ["body_0", "body_1"]
    for state, skeleton, v in zip(states, now, velocity):
        np.testing.assert_allclose(state.position_m, mid_hip_m(skeleton), atol=1e-9)
        np.testing.assert_allclose(state.velocity_mps, v, atol=1e-9)
    assert [s.reliability for s in states] == [1.0, pytest.approx(13 / 17)]


def test_a_person_whose_hips_are_hidden_now_is_placed_by_the_forecast(walker):
    now, velocity = walker[None], np.array([[1.0, 0.5, 0.0]])
    known = np.ones((1, NUM_JOINTS), bool)
    known[0, JOINT_INDEX["right_hip"]] = False
    garbled = now.copy()
    garbled[0, JOINT_INDEX["right_hip"]] = 99.0  # an unseen joint's value means nothing
    (state,) = person_states(["p"], garbled, known, constant_velocity_forecast(now, velocity),
                             HORIZONS_S)
    np.testing.assert_allclose(state.position_m, mid_hip_m(walker), atol=1e-9)
    np.testing.assert_allclose(state.velocity_mps, velocity[0], atol=1e-9)


def test_a_forecast_path_has_a_pose_at_each_horizon_stamped_at_its_time(walker):
    stamp_ns = 1_700_000_000_123_456_789
    forecast = constant_velocity_forecast(turned(walker, np.pi)[None],
                                          np.array([[-1.0, 0.0, 0.0]]))[0]
    path = forecast_path(stamp_ns, HORIZONS_S, forecast)
    assert path.stamps_ns.tolist() == [stamp_ns + 200_000_000, stamp_ns + 400_000_000,
                                       stamp_ns + 1_000_000_000]
    np.testing.assert_allclose(path.positions_m[:, 0] - mid_hip_m(turned(walker, np.pi))[0],
                               -HORIZONS_S, atol=1e-9)
    # Walking back along -x, facing -x: a half turn about z, quaternion (0, 0, +-1, 0).
    np.testing.assert_allclose(np.abs(path.orientations_xyzw[:, 2]), 1.0, atol=0.02)


def test_clearance_is_the_planar_gap_less_both_radii():
    path = robot_path([0.0, 0.0, 0.0, 2.0, 2.0, 0.0])  # 1 m/s along x
    start_ns = 5_000_000_000
    joints = np.zeros((1, NUM_JOINTS, 3))
    joints[0, :, :] = [4.5, 4.0, 1.0]  # everyone at one point, 1 m up (height is ignored)
    radius = np.full((1, NUM_JOINTS), 1.0)
    # Made 1 s after the start, for 0.5 s later: the robot is at (1.5, 0); the gap is 5 m.
    clearance = person_clearance_m(path, start_ns, start_ns + 1_000_000_000, np.array([0.5]),
                                   joints, radius, robot_radius_m=0.5)
    assert clearance == pytest.approx(5.0 - 1.0 - 0.5)
    # Long after the path's end the robot stands at its last waypoint (2, 0).
    late = person_clearance_m(path, start_ns, start_ns + 60_000_000_000, np.array([0.5]),
                              joints, radius, robot_radius_m=0.0)
    assert late == pytest.approx(np.hypot(2.5, 4.0) - 1.0)


def test_the_keep_out_radius_is_the_forecasts_own_radius_when_it_has_one():
    sigma, radius = np.array([[0.05, 0.2]]), np.array([[0.3, 0.7]])
    np.testing.assert_allclose(keep_out_radius_m(sigma, radius), radius)


def test_without_a_radius_the_keep_out_radius_is_the_gaussian_90_percent_one():
    # 2.50 sigma holds 90 % of an isotropic 3D Gaussian of per-axis sigma
    np.testing.assert_allclose(keep_out_radius_m(np.array([[0.1, 0.2]])), [[0.25, 0.5]],
                               atol=1e-3)
    np.testing.assert_allclose(keep_out_radius_m(np.array([[0.1]]), np.zeros((0,))), [[0.25]],
                               atol=1e-3)


@pytest.mark.parametrize("waypoints, complaint", [
    ([0.0, 1.0], "three numbers per waypoint"),
    ([0.0, 0.0, 0.0, 0.0, 1.0, 1.0], "increase strictly"),
])
def test_a_malformed_robot_path_is_refused_with_how_to_write_it(waypoints, complaint):
    with pytest.raises(ValueError, match=complaint):
        robot_path(waypoints)


def test_planner_outputs_default_on_but_joint_frames_and_take_the_predictor_settings():
    from nermo_ros.forecasting.settings import settings_from

    settings = planner_output_settings(settings_from({"horizons_s": [0.2, 0.4, 1.0]}))
    assert settings.publish_hri_ids and settings.publish_people and settings.publish_body_tf
    assert not settings.publish_joint_tf and settings.publish_forecast_paths
    assert settings.tf_forecast_index == 1
    off = planner_output_settings({"horizons_s": [0.2, 1.0], "tf_forecast_horizon_s": 0.0})
    assert off.tf_forecast_index is None


def test_forecast_frames_take_the_nearest_horizon_and_are_named_after_it():
    settings = planner_output_settings({"horizons_s": [0.1, 0.5, 1.0],
                                        "tf_forecast_horizon_s": 0.4})
    assert settings.tf_forecast_index == 1
    assert forecast_suffix(settings.horizons_s[settings.tf_forecast_index]) == "_forecast_500ms"


def test_planner_output_settings_out_of_range_are_refused_naming_the_value():
    with pytest.raises(ValueError, match="tf_forecast_horizon_s=-1.0 must be >= 0.0"):
        planner_output_settings({"horizons_s": [0.2, 1.0], "tf_forecast_horizon_s": -1.0})
    with pytest.raises(ValueError, match="must be a boolean"):
        planner_output_settings({"horizons_s": [0.2, 1.0], "publish_people": "yes"})
    with pytest.raises(ValueError, match="need horizons_s"):
        planner_output_settings({"publish_people": True})
