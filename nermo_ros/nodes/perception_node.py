"""Perception node: camera images in, everybody's canonical 3D skeleton out on `skeletons`.

Thin glue: messages -> arrays, ``SkeletonPerception.process``, arrays -> Skeleton3DArray.
Frames come from a sensor_msgs/Image topic (any camera driver) or, with ``video_path`` or
``camera_device`` set, straight from OpenCV. With ``use_depth`` a depth image and its
camera_info, matched by stamp, place each skeleton metrically in the camera frame.
"""

from __future__ import annotations

import time

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from nermo_ros.msg import Skeleton3DArray
from nermo_ros.nodes.bringup import spin_node_main
from nermo_ros.nodes.diagnostics import OK, WARN, DiagnosticReport, DiagnosticsPublisher
from nermo_ros.nodes.msg_convert import ns_to_stamp, skeleton_array_msg, stamp_to_ns
from nermo_ros.nodes.params import declare_parameters, parameter_overrides
from nermo_ros.parameters import ParamSpec, at_least, between, check_values, joint_distances
from nermo_ros.skeleton import JOINT_NAMES
from nermo_ros.perception.depth import CameraIntrinsics, DepthConfig
from nermo_ros.perception.frame_source import FrameSource
from nermo_ros.perception.image_convert import (ImageFormatError, depth_image_to_metres,
                                                image_to_rgb)
from nermo_ros.perception.identity import IdentitySettings, IdentityTracker
from nermo_ros.perception.pipeline import (CAMERA_FRAME_ID, DUPLICATE_BOX_OVERLAP, DepthFrame,
                                          SkeletonPerception)
from nermo_ros.perception.pose import PoseConfig, PoseEstimator
from nermo_ros.perception.reference import LAB_SKELETON_ERROR_M
from nermo_ros.perception.stamp_matcher import ApproximateStampMatcher
from nermo_ros.perception.stats import FrameRateWindow, SkippedFrameCounter
from nermo_ros.stats import DropCounter, LatencyWindow

NODE_NAME = "perception"

PARAMS = (
    ParamSpec("image_topic", "image", "sensor_msgs/Image colour topic of a camera driver; "
              "unused when video_path or camera_device is set"),
    ParamSpec("video_path", "", "Video file to read frames from instead of image_topic "
              "(stamps: the file's frame times after the first frame's read time); empty: none"),
    ParamSpec("video_loop", False, "Start the video again at its end (stamps keep increasing)"),
    ParamSpec("video_realtime", True, "Skip video frames when processing falls behind, so "
              "stamps stay near the clock; false: every frame, stamps may lag"),
    ParamSpec("camera_device", -1, "Camera index (/dev/videoN) to open with OpenCV instead of "
              "image_topic; -1: none"),
    ParamSpec("image_queue_size", 1, "Images kept waiting while one is processed (1: always "
              "the newest, best effort)"),
    ParamSpec("use_depth", False, "Place skeletons metrically with a registered depth image "
              "and its camera_info (image_topic only)"),
    ParamSpec("depth_topic", "depth/image_raw", "sensor_msgs/Image depth topic registered to "
              "the colour image (16UC1 mm or 32FC1 m)"),
    ParamSpec("camera_info_topic", "depth/camera_info", "sensor_msgs/CameraInfo of the depth "
              "image (its K back-projects pixels)"),
    ParamSpec("sync_slop_s", 0.02, "Largest stamp difference, in seconds, between a colour "
              "image and its depth image and camera_info"),
    ParamSpec("sync_queue_size", 10, "Messages per stream kept for stamp matching"),
    ParamSpec("skeletons_topic", "skeletons", "nermo_ros/Skeleton3DArray output topic"),
    ParamSpec("frame_id", CAMERA_FRAME_ID, "Frame of the published positions: REP-103 axes "
              "(x forward, y left, z up) at the camera"),
    ParamSpec("num_poses", 4, "Most people MediaPipe's PoseLandmarker looks for in a frame "
              "(each costs a landmark pass)", at_least(1)),
    ParamSpec("min_detection_confidence", 0.5, "PoseLandmarker's minimum person detection "
              "score", between(0.0, 1.0)),
    ParamSpec("min_presence_confidence", 0.5, "PoseLandmarker's minimum pose presence score",
              between(0.0, 1.0)),
    ParamSpec("min_tracking_confidence", 0.5, "PoseLandmarker's minimum score for following a "
              "person into the next frame before it detects again", between(0.0, 1.0)),
    ParamSpec("visibility_threshold", 0.5, "Joints less visible than this get confidence 0 "
              "(marked missing; their positions are still sent)", between(0.0, 1.0)),
    ParamSpec("duplicate_box_overlap", DUPLICATE_BOX_OVERLAP, "Two bodies whose joint boxes "
              "overlap more than this share of the smaller box are one person fitted twice: "
              "the better fit is kept", between(0.01, 1.0)),
    ParamSpec("max_tracks", 4, "Most people published with an id; continuing tracks keep "
              "their place, then the largest new bodies (counted on /diagnostics)", at_least(1)),
    ParamSpec("max_speed_mps", 4.0, "Fastest a person moves, in m/s: a body further from a "
              "track than this allows since it was seen starts a new track", at_least(0.1)),
    ParamSpec("jump_slack_m", 0.3, "Displacement allowed on top of max_speed_mps for the "
              "position noise between two frames, in metres", at_least(0.01)),
    ParamSpec("occlusion_memory_s", 1.0, "Seconds an unseen track keeps its id, so a person "
              "hidden briefly comes back under it", at_least(0.0)),
    ParamSpec("camera_rate_hz", 0.0, "The camera's frame rate, to count frames never "
              "processed from stamp gaps; 0: the smallest recent stamp step", at_least(0.0)),
    ParamSpec("depth_window_radius_px", 4, "Half size, in pixels, of the window whose median "
              "depth locates the anchor joint"),
    ParamSpec("min_depth_m", 0.2, "Depth readings nearer than this are invalid"),
    ParamSpec("max_depth_m", 10.0, "Depth readings farther than this are invalid"),
    ParamSpec("surface_to_centre_m", 0.1, "How far behind the body surface seen by depth the "
              "pelvis (or neck) centre lies, in metres"),
    ParamSpec("skeleton_error_m", LAB_SKELETON_ERROR_M, "How far the published joints "
              "(without depth) may be from the person's, per joint (m): the distance 90 % of "
              "their errors stayed within against a four-camera 3D reference, the larger of "
              "each left/right pair (nermo-ros perception reference). `nermo-ros run` and "
              "predict.launch.py give it to the predictor started beside this node as "
              "input_error_m, unless that sets its own; [0.0]: don't",
              joint_distances(JOINT_NAMES)),
    ParamSpec("rate_window_s", 5.0, "Window, in seconds, of the frame and detection rates"),
    ParamSpec("diagnostics_period_s", 1.0, "Seconds between /diagnostics reports"),
    ParamSpec("warn_throttle_s", 5.0, "At most one warning per kind of bad input this often"),
)


def check_settings(p: dict) -> None:
    """Refuse settings that cannot work, naming the value and what to do."""
    check_values(PARAMS, p)
    if p["video_path"] and p["camera_device"] >= 0:
        raise ValueError(f"both video_path={p['video_path']!r} and camera_device="
                         f"{p['camera_device']} are set; choose one source")
    if p["use_depth"] and (p["video_path"] or p["camera_device"] >= 0):
        raise ValueError("use_depth needs image_topic with depth_topic and camera_info_topic; "
                         "a video file or OpenCV camera has no depth")
    for name in ("image_queue_size", "sync_queue_size", "depth_window_radius_px"):
        if p[name] < (0 if name == "depth_window_radius_px" else 1):
            raise ValueError(f"{name}={p[name]} is too small; see config/perception.yaml")
    if not 0.0 <= p["min_depth_m"] < p["max_depth_m"]:
        raise ValueError(f"need 0 <= min_depth_m ({p['min_depth_m']}) < max_depth_m "
                         f"({p['max_depth_m']})")


def pose_config(p: dict) -> PoseConfig:
    return PoseConfig(num_poses=p["num_poses"],
                      min_detection_confidence=p["min_detection_confidence"],
                      min_presence_confidence=p["min_presence_confidence"],
                      min_tracking_confidence=p["min_tracking_confidence"],
                      visibility_threshold=p["visibility_threshold"])


def identity_settings(p: dict) -> IdentitySettings:
    return IdentitySettings(max_tracks=p["max_tracks"], max_speed_mps=p["max_speed_mps"],
                            jump_slack_m=p["jump_slack_m"],
                            occlusion_memory_s=p["occlusion_memory_s"])


def depth_config(p: dict) -> DepthConfig:
    return DepthConfig(window_radius_px=p["depth_window_radius_px"], min_depth_m=p["min_depth_m"],
                       max_depth_m=p["max_depth_m"], surface_to_centre_m=p["surface_to_centre_m"])


class PerceptionNode(Node):
    """PoseLandmarker on every frame; one Skeleton3DArray per frame with the frame's stamp,
    each person under a track id that persists across frames."""

    def __init__(self, config_path=None, overrides=None):
        super().__init__(NODE_NAME, parameter_overrides=parameter_overrides(
            PARAMS, NODE_NAME, config_path, overrides))
        self.settings = p = declare_parameters(self, PARAMS)
        self._perception: SkeletonPerception | None = None
        self._source: FrameSource | None = None
        self._source_ended = False
        self._matcher: ApproximateStampMatcher | None = None
        self._publisher = self.create_publisher(Skeleton3DArray, p["skeletons_topic"], 10)
        self._rates = FrameRateWindow(p["rate_window_s"])
        self._processing = LatencyWindow()
        self._stamp_age = LatencyWindow()
        self._drops = DropCounter(throttle_s=p["warn_throttle_s"])
        self._drops_reported = 0
        self._skipped = SkippedFrameCounter(p["camera_rate_hz"])
        self._people_last_frame = 0
        try:
            check_settings(p)
            identities = IdentityTracker(identity_settings(p))
            self._start_input(p)
            self._perception = SkeletonPerception(PoseEstimator(pose_config(p)), identities,
                                                  depth_config(p), p["duplicate_box_overlap"])
        except Exception:
            self.destroy_node()  # release the camera / video before the error propagates
            raise
        self._diagnostics = DiagnosticsPublisher(self, "pose estimation", p["diagnostics_period_s"],
                                                 self._report)

    def _start_input(self, p) -> None:
        if p["video_path"]:
            self._source = FrameSource.video(p["video_path"], loop=p["video_loop"],
                                             clock=self._now_s)
        elif p["camera_device"] >= 0:
            self._source = FrameSource.camera(p["camera_device"], clock=self._now_s)
        if self._source is not None:
            self._source_timer = self.create_timer(1.0 / self._source.rate_hz, self._on_source_tick)
            self.get_logger().info(f"reading {self._source.description} at "
                                   f"{self._source.rate_hz:g} Hz")
            return
        qos = QoSProfile(depth=p["image_queue_size"], reliability=ReliabilityPolicy.BEST_EFFORT)
        if not p["use_depth"]:
            self.create_subscription(Image, p["image_topic"], self._on_image, qos)
            topic = self.resolve_topic_name(p["image_topic"])
            self.get_logger().info(f"reading images from {topic} (no depth: hip-centred positions)")
            return
        matcher = self._subscribe_rgbd(p, qos)
        self.get_logger().info(
            f"reading images from {self.resolve_topic_name(p['image_topic'])} with depth "
            f"{self.resolve_topic_name(p['depth_topic'])} and camera_info "
            f"{self.resolve_topic_name(p['camera_info_topic'])}, matched by {matcher}")

    @property
    def video_length_s(self) -> float:
        """How long the video read plays (inf when it loops); 0 without a video."""
        return self._source.length_s if self._source is not None else 0.0

    def _subscribe_rgbd(self, p, qos) -> str:
        """message_filters' ApproximateTimeSynchronizer where installed, else our matcher."""
        topics = ((Image, p["image_topic"]), (Image, p["depth_topic"]),
                  (CameraInfo, p["camera_info_topic"]))
        try:
            import message_filters
        except ImportError:
            self._matcher = ApproximateStampMatcher(3, p["sync_slop_s"], p["sync_queue_size"])
            for stream, (msg_type, topic) in enumerate(topics):
                self.create_subscription(msg_type, topic, self._matcher_callback(stream), qos)
            return "stamp within sync_slop_s (message_filters is not installed)"
        subscribers = [message_filters.Subscriber(self, msg_type, topic, qos_profile=qos)
                       for msg_type, topic in topics]
        self._synchronizer = message_filters.ApproximateTimeSynchronizer(
            subscribers, p["sync_queue_size"], p["sync_slop_s"])
        self._synchronizer.registerCallback(self._on_rgbd)
        return "message_filters' ApproximateTimeSynchronizer"

    def _matcher_callback(self, stream: int):
        def callback(msg) -> None:
            stamp_s = stamp_to_ns(msg.header.stamp) * 1e-9
            for image, depth, info in self._matcher.add(stream, stamp_s, msg):
                self._on_rgbd(image, depth, info)
        return callback

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_image(self, msg: Image) -> None:
        started_s = time.perf_counter()
        try:
            rgb = image_to_rgb(msg)
        except ImageFormatError as error:
            self._drops.warn(self.get_logger(), "bad_image", str(error))
            return
        self._process(rgb, None, msg.header.stamp, started_s)

    def _on_rgbd(self, image: Image, depth: Image, info: CameraInfo) -> None:
        started_s = time.perf_counter()
        try:
            rgb = image_to_rgb(image)
            depth_m = depth_image_to_metres(depth)
            intrinsics = CameraIntrinsics.from_k(info.k, info.width, info.height)
        except ValueError as error:  # ImageFormatError included
            self._drops.warn(self.get_logger(), "bad_image", str(error))
            return
        self._process(rgb, DepthFrame(depth_m, intrinsics), image.header.stamp, started_s)

    def _on_source_tick(self) -> None:
        started_s = time.perf_counter()
        realtime = self._source.is_file and self.settings["video_realtime"]
        frame = self._source.read(not_before_s=self._now_s() if realtime else None)
        if frame is None and not self._source.is_file:
            self._drops.warn(self.get_logger(), "camera_read", f"{self._source.description} "
                             "gave no frame; retrying at the next tick")
            return
        if frame is None:
            self._source_timer.cancel()
            self._source_ended = True
            skipped = self._source.skipped_frames
            note = (f"; {skipped} more were skipped to stay in real time (video_realtime: "
                    f"false processes every frame; its stamps then fall behind the clock, so "
                    f"set the predictor's max_stamp_age_s to 0)" if skipped else "")
            self.get_logger().info(f"{self._source.description} ended after "
                                   f"{self._rates.frames_total} processed frames{note}")
            return
        stamp = ns_to_stamp(int(round(frame.stamp_s * 1e9)))
        self._process(frame.rgb, None, stamp, started_s)

    def _process(self, rgb, depth: DepthFrame | None, stamp, started_s: float) -> None:
        stamp_s = stamp_to_ns(stamp) * 1e-9
        self._skipped.add(stamp_s)
        try:
            result = self._perception.process(rgb, stamp_s, depth)
        except ValueError as error:  # e.g. depth and camera_info sizes disagree
            self._drops.warn(self.get_logger(), "bad_frame", str(error))
            return
        for _ in range(result.depth_missing):
            self._drops.warn(self.get_logger(), "no_depth", "a person was found but no valid "
                             "depth around the pelvis or neck; that person is left out")
        header = Header(stamp=stamp, frame_id=self.settings["frame_id"])
        people = {p.track_id: (p.positions_m, p.confidence) for p in result.people}
        self._publisher.publish(skeleton_array_msg(header, people))
        self._processing.add(time.perf_counter() - started_s)
        self._stamp_age.add(self._now_s() - stamp_s)
        self._rates.add(time.monotonic(), bool(result.people))
        self._people_last_frame = len(result.people)

    def _report(self) -> DiagnosticReport:
        now_s = time.monotonic()
        frames = self._rates.frames_in_window(now_s)
        processing_p50, processing_p99 = self._processing.percentiles_ms()
        age_p50, age_p99 = self._stamp_age.percentiles_ms()
        identities = self._perception.identities
        counts = identities.counts
        values = {
            "people_in_last_frame": self._people_last_frame,
            "tracks_active": len(identities.tracks),
            "tracks_started_total": counts.tracks_started,
            "identity_jumps_total": counts.identity_jumps,
            "tracks_reacquired_total": counts.reacquired_after_occlusion,
            "tracks_expired_total": counts.tracks_expired,
            "tracks_evicted_total": counts.tracks_evicted,
            "bodies_over_max_tracks_total": counts.bodies_over_max_tracks,
            "duplicate_bodies_total": self._perception.duplicates_total,
            "stamp_jumps_back_total": counts.time_jumps,
            "frames_skipped_total": self._skipped.total,
            "frame_rate_hz": self._rates.frame_rate_hz(now_s),
            "detection_rate": self._rates.detection_rate(now_s),
            "latency_p50_ms": processing_p50, "latency_p99_ms": processing_p99,
            "stamp_age_p50_ms": age_p50, "stamp_age_p99_ms": age_p99,
            "frames_total": self._rates.frames_total,
            "detections_total": self._rates.detections_total,
            "frames_without_person_total": self._rates.frames_total - self._rates.detections_total,
            "dropped_total": self._drops.total,
            **{f"dropped_{reason}_total": n for reason, n in sorted(self._drops.totals.items())},
        }
        if self._matcher is not None:
            values["unsynchronised_images_total"] = self._matcher.dropped_pivots
        if self._source is not None and self._source.is_file:
            values["video_frames_skipped_total"] = self._source.skipped_frames
        new_drops = self._drops.total - self._drops_reported
        self._drops_reported = self._drops.total
        window_s = self._rates.window_s
        if frames == 0 and self._source_ended:
            return DiagnosticReport(OK, f"{self._source.description} ended", values)
        if frames == 0:
            return DiagnosticReport(WARN, f"no frames in the last {window_s:g} s", values)
        if new_drops:
            return DiagnosticReport(WARN, f"{new_drops} inputs dropped since the last report "
                                    "(see dropped_*)", values)
        return DiagnosticReport(OK, f"{frames} frames in the last {window_s:g} s", values)

    def destroy_node(self) -> None:
        if self._perception is not None:
            self._perception.estimator.close()
            self._perception = None
        if self._source is not None:
            self._source.close()
        super().destroy_node()


def main(args=None) -> None:
    spin_node_main(PerceptionNode, args)


if __name__ == "__main__":
    main()
