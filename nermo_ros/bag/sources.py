"""Name a recorded person on the command line: ``pybullet[:CLIP]``, ``cmu:ACTION_N``, a CMU
trial file, a video file or a bag -> skeleton frames ready to write."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from nermo_ros.bag.convert import (DEFAULT_FRAME_ID, DEFAULT_START_NS, DEFAULT_TRACK_ID,
                                   clip_frames, video_frames)
from nermo_ros.bag.messages import SkeletonFrame
from nermo_ros.nodes.bringup import VIDEO_SUFFIXES
_CMU_NAME = re.compile(r"^(?P<action>.+)_(?P<n>\d+)$")


def source_frames(source: str, start_s: float | None = None, frame_id: str | None = None,
                  track_id: str | None = None, cycles: int = 1, protocol: bool = False,
                  downsample: int = 2, input_topic: str | None = None,
                  notes: list[str] | None = None) -> Iterable[SkeletonFrame]:
    """Frames of ``source``; what reading a source bag reported goes into ``notes``.
    ``track_id`` names the one person of a mocap source (default ``body_0``); a video's people
    get the perception pipeline's ids, and a bag keeps its own."""
    start_ns = DEFAULT_START_NS if start_s is None else int(round(start_s * 1e9))
    path = Path(source)
    pybullet = source == "pybullet" or source.startswith("pybullet:")
    cmu = source.startswith("cmu:") or re.search(r"\.txt(\.gz)?$", source)
    if track_id is not None and not (pybullet or cmu):
        raise ValueError(f"--track-id names the one person of a mocap source; {source} keeps "
                         f"its people's own ids (a video's are the perception node's)")
    track_id = track_id or DEFAULT_TRACK_ID
    if pybullet:
        from nermo_ros.data.pybullet_clips import DEFAULT_CLIP, load_clip

        clip = load_clip(source.partition(":")[2] or DEFAULT_CLIP, cycles=cycles)
        return clip_frames(clip, start_ns, track_id, frame_id or DEFAULT_FRAME_ID)
    if cmu:
        clip = _cmu_clip(source, protocol, downsample)
        return clip_frames(clip, start_ns, track_id, frame_id or DEFAULT_FRAME_ID)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        if not path.is_file():
            raise FileNotFoundError(f"no video file {source}")
        return video_frames(path, start_ns, frame_id or "")
    if path.exists():
        from nermo_ros.bag.io import read_skeleton_frames

        frames, report = read_skeleton_frames(path, input_topic)
        if notes is not None:
            notes.extend(report.lines()[1:])
        return frames
    raise ValueError(f"source {source!r} is not pybullet[:CLIP], cmu:ACTION_N, a CMU trial "
                     f"file, a video ({', '.join(VIDEO_SUFFIXES)}) or an existing bag")


def _cmu_clip(source: str, protocol: bool, downsample: int):
    from nermo_ros.data import cmu

    if source.startswith("cmu:"):
        match = _CMU_NAME.match(source[4:])
        if not match:
            raise ValueError(f"{source!r}: name a CMU trial as cmu:ACTION_N, e.g. cmu:walking_1")
        trials = cmu.list_trials(cmu.default_data_dir())
        path = next((p for files in trials.values() for p in files
                     if p.name.split(".")[0] == source[4:]), None)
        if path is None:
            raise FileNotFoundError(f"no CMU trial {source[4:]} under {cmu.default_data_dir()}")
    else:
        path = Path(source)
    skeleton = cmu.load_skeleton(cmu.find_skeleton_json(path.parent.parent))
    if protocol:
        return cmu.load_trial(path, skeleton, downsample=downsample)
    return cmu.load_trial(path, skeleton, downsample=downsample, global_motion=True,
                          unit_mm=cmu.METRIC_UNIT_MM)
