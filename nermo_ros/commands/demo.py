"""`nermo-ros demo`: watch forecasts of a real recorded person, live, with their error."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

SCORED_HORIZON_S = 0.4
SETTLE_S = 1.0  # after the last frame, time for the forecasts in flight to arrive
VIDEO_END_S = 3.0  # no frame for this long after some came: the video file has ended


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Plays a real recorded human motion (a mocap clip shipped with pybullet, turned into "
        "the 17-joint skeleton) at its recorded rate through the predictor node over ROS 2, "
        "and prints once a second: frames in, forecasts out, predictor latency and the error "
        "of the 400 ms forecast against what the person then did, next to simply assuming "
        "the person stands still (zero velocity). At the end it writes a plot of error "
        "against horizon. With --input, a camera, video file or image topic goes through the "
        "perception node instead.")
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="stop after this many seconds (default: the whole recording)")
    parser.add_argument("--input", default="", metavar="CAMERA|VIDEO|TOPIC",
                        help="instead of the recording: a camera number (0), a video file, or "
                             "a sensor_msgs/Image topic, seen through the perception node")
    parser.add_argument("--clip", default=None, metavar="NAME",
                        help="recorded clip to play (default: a walk; see --list-clips)")
    parser.add_argument("--list-clips", action="store_true", help="list the clips and exit")
    parser.add_argument("--cycles", type=int, default=16,
                        help="how many times a looping clip is played in a row (default 16)")
    parser.add_argument("--people", type=int, default=1,
                        help="how many people walk the clip side by side (default 1)")
    parser.add_argument("--predictor", default=None,
                        help="nermo, constant_velocity or zero_velocity (default: the config's)")
    parser.add_argument("--backend", default=None, help="NeRMo backend (default: the config's)")
    parser.add_argument("--checkpoint", default=None, metavar="PT",
                        help="NeRMo checkpoint (default: the config's; empty: the shipped model)")
    parser.add_argument("--config", default=None, metavar="YAML",
                        help="predictor parameter file (default: config/predictor.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="NODE.NAME=VALUE",
                        help="override one node parameter, as `nermo-ros run --set` does, e.g. "
                             "--set perception.video_realtime=false --set "
                             "predictor.max_stamp_age_s=0 to read every frame of a video "
                             "(perception.* needs --input; repeatable; VALUE is YAML)")
    parser.add_argument("--plot", default="nermo_demo_error.png", metavar="PNG",
                        help="where to write the error-against-horizon plot")


def run(args: argparse.Namespace) -> int:
    from nermo_ros.data.pybullet_clips import DEFAULT_CLIP, list_clips

    if args.list_clips:
        print("\n".join(list_clips()))
        return 0
    if args.duration is not None and args.duration <= 0:
        print(f"nermo-ros demo: --duration must be > 0 seconds, got {args.duration}",
              file=sys.stderr)
        return 2
    if args.people < 1:
        print(f"nermo-ros demo: --people must be at least 1, got {args.people}", file=sys.stderr)
        return 2
    if args.cycles < 1:
        print(f"nermo-ros demo: cycles {args.cycles}: a clip plays at least once (give 1 or "
              f"more)", file=sys.stderr)
        return 2
    from nermo_ros.commands.run import parse_sets

    try:
        sets = parse_sets(args.set)
    except ValueError as error:
        print(f"nermo-ros demo: {error}", file=sys.stderr)
        return 2
    if sets["perception"] and not args.input:
        print("nermo-ros demo: --set perception.* needs --input (without it the recorded clip "
              "goes straight to the predictor, no perception node runs)", file=sys.stderr)
        return 2
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init()
    try:
        return _run(args, args.clip or DEFAULT_CLIP, sets)
    except (KeyboardInterrupt, ExternalShutdownException):
        print("\nstopped")
        return 130
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"nermo-ros demo: {error}", file=sys.stderr)
        return 2
    finally:
        rclpy.try_shutdown()


def load_demo_clip(name: str, cycles: int):
    """The clip looped ``cycles`` times; a clip that does not loop (a kick) plays once."""
    from nermo_ros.data.pybullet_clips import load_clip, motions_dir, read_frames

    path = motions_dir() / name
    loops = not path.is_file() or read_frames(path)[1] == "wrap"  # load_clip names a missing one
    return load_clip(name, cycles=cycles if loops else 1)


def _run(args: argparse.Namespace, clip_name: str, sets: dict[str, dict]) -> int:
    from nermo_ros.demo.report import Reporter
    from nermo_ros.nodes.bringup import build_nodes, input_overrides, spin_until
    from nermo_ros.demo.nodes import ClipPlayer, ForecastMonitor

    overrides = {**sets["predictor"],
                 **{key: value for key, value in (("predictor", args.predictor),
                                                  ("backend", args.backend),
                                                  ("checkpoint", args.checkpoint)) if value}}
    perception = {**sets["perception"], **input_overrides(args.input)} if args.input else None
    clip = None if perception is not None else load_demo_clip(clip_name, args.cycles)
    nodes = build_nodes(args.config, overrides, perception_overrides=perception,
                        with_perception=perception is not None)
    predictor = nodes[-1]
    try:
        if not any(math.isclose(h, SCORED_HORIZON_S) for h in predictor.core.horizons_s):
            raise ValueError(f"the predictor's horizons_s {list(predictor.core.horizons_s)} lack "
                             f"{SCORED_HORIZON_S} s, the horizon the demo scores; add it")
        reporter = Reporter(SCORED_HORIZON_S, predictor.predictor.name)
        monitor = ForecastMonitor(predictor.core.horizons_s, reporter.second,
                                  skeletons_topic=predictor.settings.skeletons_topic,
                                  forecast_topic=predictor.settings.forecast_topic)
        nodes.append(monitor)
        player = None
        if clip is not None:
            player = ClipPlayer(clip, topic=predictor.settings.skeletons_topic,
                                people=args.people)
            nodes.append(player)
            reporter.intro_clip(clip, predictor.predictor.name)
        else:
            reporter.intro_input(args.input, predictor.predictor.name)
        try:
            spin_until(nodes, StopRule(args.duration, player, monitor,
                                       video="video_path" in (perception or {})))
        finally:
            reporter.summary(monitor, Path(args.plot), predictor.flow.frames_received)
    finally:
        for node in nodes:
            node.destroy_node()
    return 0


class StopRule:
    """When the demo ends: the recording played (plus time for the last forecasts), the
    video file ended, or --duration passed."""

    def __init__(self, duration_s, player, monitor, video: bool):
        self._deadline_s = None if duration_s is None else time.monotonic() + duration_s
        self._player, self._monitor, self._video = player, monitor, video
        self._player_done_s: float | None = None

    def __call__(self) -> bool:
        now_s = time.monotonic()
        out_of_time = self._deadline_s is not None and now_s >= self._deadline_s
        if self._player is None:
            # A video file has ended when frames stopped coming after some did.
            return out_of_time or (self._video and self._monitor.frames_in > 0
                                   and now_s - self._monitor.last_frame_s >= VIDEO_END_S)
        if out_of_time and not self._player.done:
            self._player.stop()
        if self._player.done and self._player_done_s is None:
            self._player_done_s = now_s  # then let the forecasts in flight arrive
        return self._player_done_s is not None and now_s - self._player_done_s >= SETTLE_S
