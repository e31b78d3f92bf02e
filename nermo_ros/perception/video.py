"""A video file -> canonical skeletons per frame, for offline tools (bags, datasets, demos)."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterator, NamedTuple

import numpy as np

from nermo_ros.perception.frame_source import FrameSource
from nermo_ros.perception.identity import IdentitySettings, IdentityTracker
from nermo_ros.perception.pipeline import FrameResult, SkeletonPerception
from nermo_ros.perception.pose import PoseConfig, PoseEstimator

SINGLE_PERSON = PoseConfig(num_poses=1)


class VideoSkeleton(NamedTuple):
    """One frame's person: stamp (s), (J, 3) hip-centred metres in REP-103 camera-relative
    axes, (J,) confidence with 0 for missing joints. Frames without a person have
    ``positions_m`` and ``confidence`` None."""

    stamp_s: float
    positions_m: np.ndarray | None
    confidence: np.ndarray | None


class VideoFrame(NamedTuple):
    """One frame of several people: its stamp (s) and what the perception pipeline made of it."""

    stamp_s: float
    result: FrameResult


def iter_video_skeletons(video_path: str, pose_config: PoseConfig = SINGLE_PERSON,
                         start_time_s: float = 0.0) -> Iterator[VideoSkeleton]:
    """One person per frame (the first the estimator reports; ``num_poses`` is forced to 1)
    for tools that follow one person; stamps are the file's frame times plus
    ``start_time_s``. For several people with ids use ``iter_video_people``."""
    with FrameSource.video(video_path, start_time_s=start_time_s) as source, \
            PoseEstimator(replace(pose_config, num_poses=1)) as estimator:
        for frame in source:
            observations = estimator.estimate(frame.rgb, frame.stamp_s)
            if not observations:
                yield VideoSkeleton(frame.stamp_s, None, None)
            else:
                yield VideoSkeleton(frame.stamp_s, observations[0].positions_m,
                                    observations[0].confidence)


def video_skeletons(video_path: str, pose_config: PoseConfig = SINGLE_PERSON,
                    start_time_s: float = 0.0, include_empty: bool = False) -> list[VideoSkeleton]:
    """All frames' skeletons as a list; frames with nobody are left out unless asked for."""
    return [s for s in iter_video_skeletons(video_path, pose_config, start_time_s)
            if include_empty or s.positions_m is not None]


def iter_video_people(video_path: str, pose_config: PoseConfig = PoseConfig(),
                      identity_settings: IdentitySettings = IdentitySettings(),
                      start_time_s: float = 0.0) -> Iterator[VideoFrame]:
    """Every frame through the perception node's pipeline: several people, persistent ids."""
    with FrameSource.video(video_path, start_time_s=start_time_s) as source, \
            PoseEstimator(pose_config) as estimator:
        perception = SkeletonPerception(estimator, IdentityTracker(identity_settings))
        for frame in source:
            yield VideoFrame(frame.stamp_s, perception.process(frame.rgb, frame.stamp_s))
