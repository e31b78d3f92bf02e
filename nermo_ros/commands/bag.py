"""`nermo-ros bag record | convert | replay | evaluate`: rosbag2 without a ROS 2 installation."""

from __future__ import annotations

import argparse
import sys

STORAGE_HELP = "bag storage: mcap (default) or sqlite3"
AGREEMENT_MM = 1.0  # live and offline MPJPE per horizon must agree this closely
AGREEMENT_SHARE = 0.02  # ...and the share of frames forecast this closely


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("rosbag2 (MCAP or SQLite 3) tools for skeleton streams and "
                          "forecasts. See docs/rosbag.md.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    _convert_args(sub.add_parser("convert", help="motion data or another bag -> skeleton bag"))
    _record_args(sub.add_parser("record", help="record live topics into a bag"))
    _replay_args(sub.add_parser("replay", help="publish a bag on live topics with its timing"))
    _evaluate_args(sub.add_parser("evaluate", help="score a predictor against a recorded bag"))


def _convert_args(p: argparse.ArgumentParser) -> None:
    p.description = (
        "SOURCE is one of: pybullet[:CLIP] (a mocap clip shipped with pybullet, e.g. "
        "pybullet:humanoid3d_run.txt); cmu:ACTION_N (a CMU trial from $NERMO_CMU_DIR, e.g. "
        "cmu:walking_1) or the path of a CMU .txt/.txt.gz trial; a video file (run through "
        "the MediaPipe pose estimator of the perception node); an existing bag (any "
        "supported skeleton stream: Skeleton3DArray, PoseArray or MarkerArray).")
    p.add_argument("source")
    p.add_argument("output", help="new bag folder to write")
    p.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"), help=STORAGE_HELP)
    p.add_argument("--topic", default="/skeletons", help="topic to write (default /skeletons)")
    p.add_argument("--start-s", type=float, default=None,
                   help="stamp of the first frame, seconds since 1970 (default 2026-01-01)")
    p.add_argument("--frame-id", default=None, help="header frame_id (default world; "
                   "for videos the perception node's default, camera_link)")
    p.add_argument("--track-id", default=None, help="the track id of a mocap source's one "
                   "person (default body_0; videos and bags keep their people's own ids)")
    p.add_argument("--cycles", type=int, default=1, help="repeat a looping pybullet clip")
    p.add_argument("--protocol", action="store_true",
                   help="CMU as the benchmark uses it: root-relative, offsets x70 mm "
                        "(default: moving through the room at true metric size)")
    p.add_argument("--downsample", type=int, default=2,
                   help="keep every Nth CMU frame (default 2: 50 Hz -> 25 Hz)")
    p.add_argument("--input-topic", default=None, help="skeleton topic of a source bag")
    p.add_argument("--tilt-deg", type=float, default=0.0, metavar="DEG",
                   help="turn every skeleton by DEG about the frame's y axis, as a camera "
                        "pitched by DEG would report it (default 0)")


def _record_args(p: argparse.ArgumentParser) -> None:
    p.description = ("Subscribes to live topics and writes every message as received (in "
                     "arrival order, at the arrival time of the node clock, header stamps "
                     "unchanged). Stops after --duration-s, --max-messages or Ctrl-C.")
    p.add_argument("output", help="new bag folder to write")
    p.add_argument("--topics", nargs="+", default=["skeletons", "human_forecast"],
                   help="topics to record (default: skeletons human_forecast)")
    p.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"), help=STORAGE_HELP)
    p.add_argument("--duration-s", type=float, default=None, help="stop after this long")
    p.add_argument("--max-messages", type=int, default=None, help="stop after this many")
    p.add_argument("--discovery-timeout-s", type=float, default=5.0,
                   help="how long to wait for the topics' publishers before recording starts; "
                        "a topic whose publisher comes later is recorded from then on")
    p.add_argument("--use-sim-time", action="store_true",
                   help="log arrival times on /clock (when recording a replay)")


def _replay_args(p: argparse.ArgumentParser) -> None:
    p.description = ("Publishes the bag's messages on live topics with their recorded "
                     "spacing, and /clock with the bag time (start nodes with "
                     "use_sim_time:=true), like `ros2 bag play --clock`.")
    p.add_argument("bag")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    p.add_argument("--loop", action="store_true", help="play again from the start when done")
    p.add_argument("--start-offset-s", type=float, default=0.0,
                   help="skip this many seconds at the start of the bag")
    p.add_argument("--remap", nargs="+", default=[], metavar="FROM:=TO",
                   help="publish topic FROM under the name TO")
    p.add_argument("--topics", nargs="+", default=None, help="replay only these topics")
    p.add_argument("--clock-hz", type=float, default=40.0,
                   help="/clock publications per second between messages")
    p.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    p.add_argument("--delay-s", type=float, default=0.0,
                   help="wait this long after start (lets subscribers connect)")
    p.add_argument("--wait-for-subscribers", type=int, default=0, metavar="N",
                   help="before playing, wait until every topic has N subscribers")


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Runs the predictor on the bag's skeleton stream (offline: in this process, "
        "deterministic; live: the real predictor node over DDS; both: both, and checks that "
        "they agree), matches each forecast step with what the person did then (interpolated "
        "in time) and reports MPJPE per horizon and joint, the share of frames forecast and "
        "latency p50/p99. With --forecasts, scores forecasts already recorded in a bag.")
    p.add_argument("bag", help="bag with the recorded (ground-truth) skeletons")
    p.add_argument("--topic", default=None, help="skeleton topic (default: the bag's only one)")
    p.add_argument("--mode", default="offline", choices=("offline", "live", "both"))
    p.add_argument("--forecasts", default=None, metavar="BAG",
                   help="score the HumanForecastArray messages of this bag instead of running "
                        "a predictor")
    p.add_argument("--predictor", default=None,
                   help="nermo, constant_velocity or zero_velocity (default: the config's)")
    p.add_argument("--config", default=None, metavar="YAML",
                   help="predictor node parameters (default: config/predictor.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override one predictor parameter of the config, e.g. --set "
                        "max_stamp_age_s=0 (repeatable; VALUE is read as YAML)")
    p.add_argument("--out", default="bag_evaluation", metavar="DIR",
                   help="folder for evaluation.json, CSVs and mpjpe.png")
    p.add_argument("--output-bag", default=None, metavar="PATH",
                   help="also write skeletons, forecasts and markers to this bag")
    p.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"), help=STORAGE_HELP)
    from nermo_ros.forecasting.truth import SCORING_MAX_GAP_S

    p.add_argument("--max-gap-s", type=float, default=SCORING_MAX_GAP_S,
                   help=f"do not score across recording gaps longer than this (default "
                        f"{SCORING_MAX_GAP_S})")
    p.add_argument("--rate", type=float, default=1.0, help="live mode replay speed")


def run(args: argparse.Namespace) -> int:
    handlers = {"convert": _convert, "record": _record, "replay": _replay,
                "evaluate": _evaluate}
    try:
        return handlers[args.action](args)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError, RuntimeError) as error:
        print(f"nermo-ros bag {args.action}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 130


def _convert(args) -> int:
    from nermo_ros.bag.sources import source_frames
    from nermo_ros.bag.convert import tilted_frames, write_skeleton_bag

    notes: list[str] = []
    frames = source_frames(args.source, start_s=args.start_s, frame_id=args.frame_id,
                           track_id=args.track_id, cycles=args.cycles,
                           protocol=args.protocol, downsample=args.downsample,
                           input_topic=args.input_topic, notes=notes)
    if args.tilt_deg:
        frames = tilted_frames(frames, args.tilt_deg)
    for note in notes:
        print(f"note: {note}")
    count = write_skeleton_bag(args.output, frames, args.topic, args.storage)
    print(f"wrote {count} frames of {args.source} to {args.output} ({args.storage}, "
          f"{args.topic})")
    return 0 if count else 1


def _record(args) -> int:
    from nermo_ros.bag.ros_cli import record

    return record(args)


def _replay(args) -> int:
    from nermo_ros.bag.ros_cli import replay

    return replay(args)


def _evaluate(args) -> int:
    from nermo_ros.bag import evaluate as ev
    from nermo_ros.bag.report import write_outputs

    overrides = predictor_sets(args.set)
    if args.predictor:
        overrides["predictor"] = args.predictor
    data = ev.load_input(args.bag, args.topic, args.config, overrides)
    results = []  # (evaluation, forecast records)
    if args.forecasts:
        results.append(ev.evaluate_recorded(data, args.forecasts, args.max_gap_s))
    else:
        if args.mode in ("offline", "both"):
            results.append(ev.evaluate_offline(data, args.max_gap_s))
        if args.mode in ("live", "both"):
            from nermo_ros.bag.live import evaluate_live

            results.append(evaluate_live(data, rate=args.rate, max_gap_s=args.max_gap_s))
    for evaluation, _ in results:
        out = args.out if len(results) == 1 else f"{args.out}/{evaluation.mode}"
        print(evaluation.text())
        print(f"  wrote {', '.join(str(p) for p in write_outputs(evaluation, out))}")
    if args.output_bag:
        evaluation, records = results[0]
        notes = ev.write_forecast_bag(args.output_bag, data, records, args.storage)
        print(f"wrote the {evaluation.mode} forecasts to {args.output_bag}"
              + "".join(f"; {n}" for n in notes))
    return _report_agreement(results[0][0], results[1][0]) if len(results) == 2 else 0


def predictor_sets(items: list[str]) -> dict:
    """``["max_stamp_age_s=0"]`` -> ``{"max_stamp_age_s": 0}``, read as `run --set` reads
    ``predictor.max_stamp_age_s=0`` (which is accepted too)."""
    from nermo_ros.commands.run import parse_sets

    return parse_sets([item if item.startswith("predictor.") else f"predictor.{item}"
                       for item in items])["predictor"]


def _report_agreement(offline, live) -> int:
    import numpy as np

    diff_mm = np.abs(offline.scores.mpjpe_by_horizon_m - live.scores.mpjpe_by_horizon_m) * 1e3
    share = abs(offline.scores.share_forecast - live.scores.share_forecast)
    worst = float(np.nanmax(diff_mm)) if np.isfinite(diff_mm).any() else 0.0
    ok = worst <= AGREEMENT_MM and share <= AGREEMENT_SHARE
    print(f"live vs offline: MPJPE differs by at most {worst:.3f} mm per horizon (tolerance "
          f"{AGREEMENT_MM} mm), share forecast by {share:.3f} (tolerance {AGREEMENT_SHARE}): "
          f"{'agree' if ok else 'DISAGREE'}")
    return 0 if ok else 1
