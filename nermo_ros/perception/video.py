"""A video file -> canonical skeletons per frame, for offline tools (bags, datasets, demos)."""

from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

from nermo_ros.perception.frame_source import FrameSource
from nermo_ros.perception.pose import MediaPipePoseEstimator, PoseConfig


class VideoSkeleton(NamedTuple):
    """One frame's person: stamp (s), (J, 3) hip-centred metres in REP-103 camera-relative
    axes, (J,) confidence with 0 for missing joints. Frames without a person have
    ``positions_m`` and ``confidence`` None."""

    stamp_s: float
    positions_m: np.ndarray | None
    confidence: np.ndarray | None


def iter_video_skeletons(video_path: str, pose_config: PoseConfig = PoseConfig(),
                         start_time_s: float = 0.0) -> Iterator[VideoSkeleton]:
    """Skeletons frame by frame; stamps are the file's frame times plus ``start_time_s``."""
    with FrameSource.video(video_path, start_time_s=start_time_s) as source, \
            MediaPipePoseEstimator(pose_config) as estimator:
        for frame in source:
            observation = estimator.estimate(frame.rgb)
            if observation is None:
                yield VideoSkeleton(frame.stamp_s, None, None)
            else:
                yield VideoSkeleton(frame.stamp_s, observation.positions_m, observation.confidence)


def video_skeletons(video_path: str, pose_config: PoseConfig = PoseConfig(),
                    start_time_s: float = 0.0, include_empty: bool = False) -> list[VideoSkeleton]:
    """All frames' skeletons as a list; frames with nobody are left out unless asked for."""
    return [s for s in iter_video_skeletons(video_path, pose_config, start_time_s)
            if include_empty or s.positions_m is not None]
