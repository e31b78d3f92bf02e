"""`nermo-ros perception bundle|bench`: build the pose bundle; benchmark perception on real video.

``bundle`` builds (or finds) the PoseLandmarker bundle from the installed mediapipe's pose
models; scripts/setup.sh runs it. ``bench`` reports, per video, frames with people, bodies
per frame, tracks and identity jumps, perception latency, and (unless --no-forecasts)
camera->forecast latency and NeRMo / constant-velocity / standing-still error; then the
frame-rate budget with 1, 2 and 4 people in view. Also runnable as
`python -m nermo_ros.commands.perception`.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    bundle = sub.add_parser("bundle", help="build the PoseLandmarker bundle (cached)")
    bundle.add_argument("--cache-dir", default=None,
                        help="where to keep it (default $NERMO_CACHE_DIR/pose or "
                             "~/.cache/nermo_ros/pose)")
    bench = sub.add_parser("bench", help="perception on real videos and the frame-rate budget")
    bench.add_argument("--videos", default="single,several",
                       help="comma list of packaged videos (single, several) or video files")
    bench.add_argument("--max-frames", type=int, default=None, help="per video (default: all)")
    bench.add_argument("--no-forecasts", action="store_true",
                       help="skip running the predictors over the perceived skeletons")
    bench.add_argument("--budget-video", default="single",
                       help="video replayed as a camera for the budget ('' to skip)")
    bench.add_argument("--budget-people", default="1,2,4", help="people in view, from 1,2,4")
    bench.add_argument("--rate-hz", type=float, default=30.0, help="camera rate of the budget")
    bench.add_argument("--budget-seconds", type=float, default=3.0, help="camera time per case")
    bench.add_argument("--budget-min-detection", type=float, default=0.3,
                       help="detection threshold of the budget runs (lower than the node's "
                            "0.5 so that four people sharing a frame are all found)")
    bench.add_argument("--num-poses", type=int, default=4, help="PoseLandmarker num_poses")
    bench.add_argument("--predictor-config", default=None, metavar="YAML",
                       help="predictor node parameters the forecasts run with (default: "
                            "config/predictor.yaml), e.g. one with mirror_average: true")
    bench.add_argument("--json", default=None, help="also write the results to this file")
    reference = sub.add_parser(
        "reference", help="each camera's skeletons and forecasts against a 3D reference "
                          "triangulated from all cameras of a calibrated recording")
    reference.add_argument("--views", default="lab_4views",
                           help="packaged multi-camera recording (lab_4views)")
    reference.add_argument("--no-forecasts", action="store_true",
                           help="only the skeletons' error, no predictors")
    reference.add_argument("--predictor-config", default=None, metavar="YAML",
                           help="predictor node parameters the forecasts run with (default: "
                                "config/predictor.yaml)")
    reference.add_argument("--json", default=None, help="also write the results to this file")


def run(args: argparse.Namespace) -> int:
    if args.action == "bundle":
        from pathlib import Path

        from nermo_ros.perception.bundle import pose_bundle_path

        print(pose_bundle_path(Path(args.cache_dir) if args.cache_dir else None))
        return 0
    if args.action == "reference":
        return _reference(args)
    return _bench(args)


def _reference(args: argparse.Namespace) -> int:
    from nermo_ros.perception.media import MULTIVIEWS
    from nermo_ros.perception.reference import reference_report

    if args.views not in MULTIVIEWS:
        raise ValueError(f"--views {args.views!r}: choose one of {', '.join(MULTIVIEWS)}")
    videos, calibration = MULTIVIEWS[args.views].require()
    report = reference_report(videos, calibration, forecasts=not args.no_forecasts,
                              config_path=args.predictor_config)
    print(f"{args.views}: {len(videos)} cameras, {report['frames']} frames in all views (frame "
          f"offsets {report['offsets_frames']}); the views agree to "
          f"{report['reprojection_px_median']} px (median; p90 "
          f"{report['reprojection_px_p90']} px)")
    keys = ("wrong_fit_frames", "joints_missing_pct", "mpjpe_mm", "depth_mm", "across_mm",
            "depth_bias_mm", "procrustes_mm", "bone_scale", "bone_change_pct", "error_change_mm")
    print("each camera's skeleton against the reference (hip-centred, mm):")
    print("  camera " + " ".join(keys))
    for view in report["views"]:
        print(f"  {view['camera']:6} " + " ".join(f"{view[k]!s:>{len(k)}}" for k in keys))
    print(f"input_error_m covering 90 % of each joint's error over every camera (a predictor "
          f"parameter for a camera like these): {report['input_error_m']}")
    for view, forecasts in zip(report["views"], report["forecasts"]):
        print(f"forecasts from {view['camera']} against the reference, mm at horizon (s):")
        horizons = list(next(iter(forecasts.values()))["mpjpe_mm"])
        print(f"  {'predictor':18}" + " ".join(f"{h:>6}" for h in horizons)
              + "  radius covers (states), mean m")
        for name, row in forecasts.items():
            print(f"  {name:18}" + " ".join(f"{row['mpjpe_mm'][h]!s:>6}" for h in horizons)
                  + f"  {row['radius_coverage']} ({row['coverage_stated']}), "
                  f"{row['radius_mean_m']}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from nermo_ros.perception import benchmark
    from nermo_ros.perception.media import video_path
    from nermo_ros.perception.pose import PoseConfig

    pose_config = PoseConfig(num_poses=args.num_poses)
    results: dict = {"videos": [], "budget": []}
    for name in filter(None, args.videos.split(",")):
        perceived = benchmark.perceive_video(video_path(name), pose_config,
                                             max_frames=args.max_frames)
        report = {"name": name, **benchmark.summary(perceived)}
        if not args.no_forecasts:
            report["forecasts"] = benchmark.forecast_report(
                perceived, config_path=args.predictor_config)
        results["videos"].append(report)
        print(json.dumps(report), flush=True)
    if args.budget_video:
        path = video_path(args.budget_video)
        for people in (int(n) for n in args.budget_people.split(",") if n):
            budget_config = PoseConfig(min_detection_confidence=args.budget_min_detection)
            report = benchmark.frame_rate_budget(path, people, args.rate_hz,
                                                 args.budget_seconds, pose_config=budget_config)
            results["budget"].append(report)
            print(json.dumps(report), flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nermo-ros perception", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
