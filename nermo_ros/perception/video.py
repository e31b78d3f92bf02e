"""A video file -> every person's canonical skeleton per frame, with the perception node's ids,
for offline tools (bag conversion)."""

from __future__ import annotations

from typing import Iterator, NamedTuple

from nermo_ros.perception.frame_source import FrameSource
from nermo_ros.perception.identity import IdentitySettings, IdentityTracker
from nermo_ros.perception.pipeline import FrameResult, SkeletonPerception
from nermo_ros.perception.pose import PoseConfig, PoseEstimator


class VideoFrame(NamedTuple):
    """One frame of several people: its stamp (s) and what the perception pipeline made of it."""

    stamp_s: float
    result: FrameResult


def iter_video_people(video_path: str, pose_config: PoseConfig = PoseConfig(),
                      identity_settings: IdentitySettings = IdentitySettings(),
                      start_time_s: float = 0.0) -> Iterator[VideoFrame]:
    """Every frame through the perception node's pipeline: several people, persistent ids."""
    with FrameSource.video(video_path, start_time_s=start_time_s) as source, \
            PoseEstimator(pose_config) as estimator:
        perception = SkeletonPerception(estimator, IdentityTracker(identity_settings))
        for frame in source:
            yield VideoFrame(frame.stamp_s, perception.process(frame.rgb, frame.stamp_s))
