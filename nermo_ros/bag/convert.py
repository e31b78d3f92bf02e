"""Recorded motion (mocap clips, CMU trials, a video through the pose estimator) -> skeleton bags.

Stamps are ``start_ns`` plus the source's own frame times, and each message is logged at its
stamp, so a replay runs at the speed the person moved.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable

import numpy as np

from nermo_ros.bag.io import DEFAULT_STORAGE, BagWriter
from nermo_ros.bag.messages import Person, SkeletonFrame, skeleton_array
from nermo_ros.data.clip import Clip
from nermo_ros.skeleton import NUM_JOINTS

DEFAULT_TOPIC = "/skeletons"
DEFAULT_FRAME_ID = "world"
DEFAULT_TRACK_ID = "body_0"
# A fixed default start (2026-01-01T00:00:00Z) keeps converted bags byte-for-byte reproducible.
DEFAULT_START_NS = 1_767_225_600 * 1_000_000_000


def clip_frames(clip: Clip, start_ns: int = DEFAULT_START_NS, track_id: str = DEFAULT_TRACK_ID,
                frame_id: str = DEFAULT_FRAME_ID) -> list[SkeletonFrame]:
    """One person, fully observed, per clip frame."""
    confidence = np.ones(NUM_JOINTS, dtype=np.float32)
    frames = []
    for t_s, pos in zip(clip.times_s, clip.positions_m):
        stamp = start_ns + int(round(t_s * 1e9))
        person = Person(track_id, pos.astype(np.float32).reshape(-1), confidence)
        frames.append(SkeletonFrame(stamp, frame_id, (person,), log_ns=stamp))
    return frames


def tilted_frames(frames: Iterable[SkeletonFrame], degrees: float) -> list[SkeletonFrame]:
    """The frames as a frame pitched by ``degrees`` about its y axis sees them (a camera
    looking down at people reports them leaning by its angle), turned about the origin."""
    a = np.radians(degrees)
    turn = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    return [dataclasses.replace(frame, people=tuple(
        dataclasses.replace(p, positions=(p.positions.reshape(-1, 3) @ turn.T)
                            .astype(p.positions.dtype).reshape(-1))
        for p in frame.people)) for frame in frames]


def write_skeleton_bag(path: str | Path, frames: Iterable[SkeletonFrame],
                       topic: str = DEFAULT_TOPIC, storage: str = DEFAULT_STORAGE) -> int:
    """Write frames as Skeleton3DArray messages logged at ``log_ns`` (or the stamp); -> count."""
    with BagWriter(path, storage) as writer:
        for frame in frames:
            writer.write(topic, frame.log_ns or frame.stamp_ns, skeleton_array(frame))
        return writer.count


def video_frames(video_path: str | Path, start_ns: int = DEFAULT_START_NS,
                 frame_id: str = "") -> Iterable[SkeletonFrame]:
    """A video through the perception node's own pipeline (its pose estimator defaults,
    several people, ids kept across frames by its identity tracker), one frame per video frame,
    in the node's default frame unless ``frame_id`` names another.

    Every person found is written under the id the perception node would publish, so a
    video with several people keeps them all, apart. Frames where nobody was found are
    written with no people, as the perception node publishes them, so the bag keeps the
    video's timing.
    """
    from nermo_ros.perception.pipeline import CAMERA_FRAME_ID
    from nermo_ros.perception.video import iter_video_people  # imports MediaPipe

    frame_id = frame_id or CAMERA_FRAME_ID  # the perception node's default
    for item in iter_video_people(str(video_path), start_time_s=start_ns * 1e-9):
        stamp = int(round(item.stamp_s * 1e9))
        people = tuple(Person(p.track_id, p.positions_m.reshape(-1), p.confidence)
                       for p in item.result.people)  # float32 already (PersonSkeleton)
        yield SkeletonFrame(stamp, frame_id, people, log_ns=stamp)
