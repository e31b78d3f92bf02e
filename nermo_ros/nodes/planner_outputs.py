"""The forecasts on the interfaces planners already read, beside `/human_forecast`.

Per input frame, each switched on by a predictor parameter (``planning/settings.py``):
- `/humans/bodies/tracked` (hri_msgs/IdsList): the REP-155 ids of the bodies tracked (in the
  predictor's windows, also when left out of this frame);
- `/tf` (tf2_msgs/TFMessage): per body in the frame ``body_<id>`` at the mid-hip and the joint
  frames ``<joint>_<id>``, and for one horizon the predicted ``..._forecast_<ms>ms`` frames;
- `/people` (people_msgs/People): position, velocity and reliability per forecast person;
- `/humans/bodies/<id>/forecast_path` (nav_msgs/Path): a forecast person's mid-hip poses at
  the horizons. A body's path publisher goes when the predictor forgets the body.

Every stamp is the frame's capture stamp (a path pose's: that stamp plus its horizon) and
every position is in the frame's ``frame_id``. The arrays come from ``nermo_ros.planning``;
this module only builds and publishes the messages. The message packages are imported only
for the outputs switched on, so a ROS installation without, say, hri_msgs can still run the
predictor with that output off.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from geometry_msgs.msg import Point, PoseStamped, TransformStamped
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from nermo_ros.nodes.msg_convert import ns_to_stamp, stamp_to_ns
from nermo_ros.planning.frames import (BodyFrames, body_frames, forecast_suffix, hri_body_id,
                                       yaw_quaternion_xyzw)
from nermo_ros.planning.paths import forecast_path, horizon_stamps_ns
from nermo_ros.planning.people import person_states
from nermo_ros.planning.settings import PlannerOutputSettings, planner_output_settings
from nermo_ros.predictors.base import ForecastBatch

TRACKED_BODIES_TOPIC = "/humans/bodies/tracked"
TF_TOPIC = "/tf"
PEOPLE_TOPIC = "/people"
FORECAST_PATH_TOPIC = "/humans/bodies/{body_id}/forecast_path"
# Reliable and volatile: matches reliable and best-effort subscribers alike. /tf as tf2_ros's
# TransformBroadcaster publishes it (keep last 100), so tf listeners see what they expect.
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
TF_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)


def _message_type(package: str, name: str, setting: str):
    """A message class, or ImportError saying how to get its package or switch it off."""
    try:
        module = __import__(f"{package}.msg", fromlist=[name])
    except ImportError as error:
        raise ImportError(
            f"{package} is not installed ({error}), and {setting} needs it: in a ROS 2 "
            f"workspace run `rosdep install --from-paths src --ignore-src` (or install "
            f"ros-$ROS_DISTRO-{package.replace('_', '-')}); in the pip-only set-up run "
            f"scripts/setup.sh, which builds it; or set {setting} false") from error
    return getattr(module, name)


class PlannerOutputs:
    """Publishers of the planner outputs on ``node``; ``publish`` once per answered frame."""

    def __init__(self, node, settings: Mapping[str, Any] | Any):
        self.settings: PlannerOutputSettings = planner_output_settings(settings)
        s = self.settings
        self._node = node
        self._ids_pub = self._tf_pub = self._people_pub = None
        self._path_pubs: dict[str, Any] = {}  # track id -> its path publisher
        if s.publish_hri_ids:
            self._IdsList = _message_type("hri_msgs", "IdsList", "publish_hri_ids")
            self._ids_pub = node.create_publisher(self._IdsList, TRACKED_BODIES_TOPIC,
                                                  OUTPUT_QOS)
        if s.publish_body_tf:
            self._TFMessage = _message_type("tf2_msgs", "TFMessage", "publish_body_tf")
            self._tf_pub = node.create_publisher(self._TFMessage, TF_TOPIC, TF_QOS)
        if s.publish_people:
            self._People = _message_type("people_msgs", "People", "publish_people")
            self._Person = _message_type("people_msgs", "Person", "publish_people")
            self._people_pub = node.create_publisher(self._People, PEOPLE_TOPIC, OUTPUT_QOS)
        if s.publish_forecast_paths:
            self._Path = _message_type("nav_msgs", "Path", "publish_forecast_paths")
        self._forecast_row = s.tf_forecast_index
        self._forecast_suffix = ("" if self._forecast_row is None
                                 else forecast_suffix(s.horizons_s[self._forecast_row]))

    def publish(self, header: Header, track_ids: Sequence[str], forecast: ForecastBatch | None,
                core) -> None:
        """Publish one frame's outputs. ``track_ids`` name the rows of ``forecast`` (None or
        no rows: nobody forecast); ``core.tracker.windows`` holds each body's newest skeleton
        and ``core.horizons_s`` the forecast offsets."""
        windows = core.tracker.windows
        stamp_ns = stamp_to_ns(header.stamp)
        in_frame = sorted(t for t, w in windows.items() if w.newest_ns == stamp_ns)
        rows = list(track_ids) if forecast is not None else []
        if self._ids_pub is not None:  # every body still tracked: one frame left out (a
            # glitch held back, a dropped skeleton) must not read as the body lost and found
            self._ids_pub.publish(self._IdsList(header=header,
                                                ids=[hri_body_id(t) for t in sorted(windows)]))
        if self._tf_pub is not None:
            self._publish_tf(header, in_frame, windows, rows, forecast)
        if self._people_pub is not None:
            self._publish_people(header, rows, windows, forecast, core.horizons_s)
        if self.settings.publish_forecast_paths:
            self._publish_paths(header, stamp_ns, rows, forecast, core.horizons_s, windows)

    def destroy(self) -> None:
        for publisher in (self._ids_pub, self._tf_pub, self._people_pub,
                          *self._path_pubs.values()):
            if publisher is not None:
                self._node.destroy_publisher(publisher)
        self._ids_pub = self._tf_pub = self._people_pub = None
        self._path_pubs.clear()

    # -- one output each ------------------------------------------------------------------
    def _publish_tf(self, header, in_frame, windows, rows, forecast) -> None:
        observed = body_frames([hri_body_id(t) for t in in_frame],
                               [windows[t].positions_m[-1] for t in in_frame],
                               np.array([windows[t].observed[-1] for t in in_frame]))
        predicted = []
        if self._forecast_row is not None and rows:
            positions = forecast.positions[:, self._forecast_row]
            predicted = body_frames([hri_body_id(t) for t in rows], positions,
                                    np.ones(positions.shape[:2], dtype=bool),
                                    self._forecast_suffix)
        joints = self.settings.publish_joint_tf
        transforms = [transform for frames in (*observed, *predicted)
                      for transform in _frame_transforms(header, frames, joints)]
        if transforms:
            self._tf_pub.publish(self._TFMessage(transforms=transforms))

    def _publish_people(self, header, rows, windows, forecast, horizons_s) -> None:
        people = []
        if rows:
            newest = [windows[t] for t in rows]
            states = person_states(rows, np.stack([w.positions_m[-1] for w in newest]),
                                   np.stack([w.observed[-1] for w in newest]),
                                   forecast.positions, horizons_s)
            people = [self._Person(name=s.track_id, position=_point(s.position_m),
                                   velocity=_point(s.velocity_mps), reliability=s.reliability,
                                   tagnames=["body_id"], tags=[hri_body_id(s.track_id)])
                      for s in states]
        self._people_pub.publish(self._People(header=header, people=people))

    def _publish_paths(self, header, stamp_ns, rows, forecast, horizons_s, windows) -> None:
        for track_id in [t for t in self._path_pubs if t not in windows]:  # forgotten
            self._node.destroy_publisher(self._path_pubs.pop(track_id))
        if not rows:
            return
        # Every path of the frame has its poses at the same times: one header per horizon.
        pose_headers = [Header(stamp=ns_to_stamp(pose_ns), frame_id=header.frame_id)
                        for pose_ns in horizon_stamps_ns(stamp_ns, horizons_s).tolist()]
        for row, track_id in enumerate(rows):
            publisher = self._path_pubs.get(track_id)
            if publisher is None:
                publisher = self._path_pubs[track_id] = self._node.create_publisher(
                    self._Path, FORECAST_PATH_TOPIC.format(body_id=hri_body_id(track_id)),
                    OUTPUT_QOS)
            path = forecast_path(stamp_ns, horizons_s, forecast.positions[row])
            publisher.publish(self._Path(header=header, poses=[
                _pose(pose_header, position, orientation) for pose_header, position, orientation
                in zip(pose_headers, path.positions_m.tolist(),
                       path.orientations_xyzw.tolist())]))


# Messages are filled in place: rclpy builds every nested member of a new message anyway, so
# passing new members as arguments would build each of them twice.
def _point(xyz: np.ndarray) -> Point:
    point = Point()
    point.x, point.y, point.z = xyz.tolist()
    return point


def _pose(header: Header, xyz: list[float], xyzw: list[float]) -> PoseStamped:
    pose = PoseStamped()
    pose.header = header
    position, orientation = pose.pose.position, pose.pose.orientation
    position.x, position.y, position.z = xyz
    orientation.x, orientation.y, orientation.z, orientation.w = xyzw
    return pose


def _transform(header: Header, child_frame: str, xyz: list[float],
               xyzw: list[float] | None = None) -> TransformStamped:
    transform = TransformStamped()
    transform.header = header
    transform.child_frame_id = child_frame
    translation = transform.transform.translation
    translation.x, translation.y, translation.z = xyz
    if xyzw is not None:  # else the identity rotation, the default
        rotation = transform.transform.rotation
        rotation.x, rotation.y, rotation.z, rotation.w = xyzw
    return transform


def _frame_transforms(header: Header, frames: BodyFrames | None,
                      with_joints: bool) -> list[TransformStamped]:
    """The body frame in the header's frame, then (``with_joints``) each known joint in it."""
    if frames is None:
        return []
    body = _transform(header, frames.body_frame, frames.origin_m.tolist(),
                      yaw_quaternion_xyzw(frames.yaw_rad).tolist())
    if not with_joints:
        return [body]
    in_body = Header(stamp=header.stamp, frame_id=frames.body_frame)
    return [body, *(_transform(in_body, name, xyz) for name, xyz in
                    zip(frames.joint_frames, frames.joint_offsets_m.tolist()))]
