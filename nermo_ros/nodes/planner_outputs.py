"""The forecasts on the interfaces planners already read, beside `/human_forecast`.

Per input frame, each switched on by a predictor parameter (``planning/settings.py``):
- `/humans/bodies/tracked` (hri_msgs/IdsList): the REP-155 ids of the bodies in the frame;
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
from geometry_msgs.msg import (Point, Pose, PoseStamped, Quaternion, Transform,
                               TransformStamped, Vector3)
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from nermo_ros.nodes.msg_convert import ns_to_stamp, stamp_to_ns
from nermo_ros.planning.frames import (BodyFrames, body_frames, forecast_suffix, hri_body_id,
                                       yaw_quaternion_xyzw)
from nermo_ros.planning.paths import forecast_path
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
        if self._ids_pub is not None:
            self._ids_pub.publish(self._IdsList(header=header,
                                                ids=[hri_body_id(t) for t in in_frame]))
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
        transforms: list[TransformStamped] = []
        for track_id in in_frame:
            window = windows[track_id]
            frames = body_frames(hri_body_id(track_id), window.positions_m[-1],
                                 window.observed[-1])
            transforms += _frame_transforms(header, frames)
        if self._forecast_row is not None:
            all_known = np.ones(forecast.positions.shape[2], dtype=bool) if rows else None
            for row, track_id in enumerate(rows):
                frames = body_frames(hri_body_id(track_id),
                                     forecast.positions[row, self._forecast_row], all_known,
                                     self._forecast_suffix)
                transforms += _frame_transforms(header, frames)
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
        for row, track_id in enumerate(rows):
            publisher = self._path_pubs.get(track_id)
            if publisher is None:
                publisher = self._path_pubs[track_id] = self._node.create_publisher(
                    self._Path, FORECAST_PATH_TOPIC.format(body_id=hri_body_id(track_id)),
                    OUTPUT_QOS)
            path = forecast_path(stamp_ns, horizons_s, forecast.positions[row])
            publisher.publish(self._Path(header=header, poses=[
                PoseStamped(header=Header(stamp=ns_to_stamp(int(pose_ns)),
                                          frame_id=header.frame_id),
                            pose=Pose(position=_point(position),
                                      orientation=_quaternion(orientation)))
                for pose_ns, position, orientation in zip(
                    path.stamps_ns, path.positions_m, path.orientations_xyzw)]))


def _point(xyz: np.ndarray) -> Point:
    x, y, z = xyz.tolist()
    return Point(x=x, y=y, z=z)


def _quaternion(xyzw: np.ndarray) -> Quaternion:
    x, y, z, w = xyzw.tolist()
    return Quaternion(x=x, y=y, z=z, w=w)


def _frame_transforms(header: Header, frames: BodyFrames | None) -> list[TransformStamped]:
    """The body frame in the header's frame, then each known joint in the body frame."""
    if frames is None:
        return []
    x, y, z = frames.origin_m.tolist()
    body = TransformStamped(header=header, child_frame_id=frames.body_frame,
                            transform=Transform(translation=Vector3(x=x, y=y, z=z),
                                                rotation=_quaternion(
                                                    yaw_quaternion_xyzw(frames.yaw_rad))))
    in_body = Header(stamp=header.stamp, frame_id=frames.body_frame)
    joints = [TransformStamped(header=in_body, child_frame_id=name,
                               transform=Transform(translation=Vector3(x=jx, y=jy, z=jz)))
              for name, (jx, jy, jz) in zip(frames.joint_frames,
                                            frames.joint_offsets_m.tolist())]
    return [body, *joints]
