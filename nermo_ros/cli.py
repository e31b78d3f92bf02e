"""`nermo-ros VERB`: one console command, as `ros2` has verbs.

Each verb lives in ``nermo_ros/commands/<verb>.py`` and exposes ``add_arguments(parser)`` and
``run(args) -> int``; its one-line summary is in ``VERBS``. Verbs are imported only when used,
so ``nermo-ros --help`` stays fast and a verb's heavy imports (torch, rclpy) do not slow the others.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

VERBS: dict[str, str] = {
    "demo": "Stream a recorded person through the real nodes and show live forecast error.",
    "run": "Start the perception and predictor nodes without `ros2 launch`.",
    "train": "Meta-train the NeRMo model (or the DCT-MLP baseline) from a YAML config or a "
             "staged recipe.",
    "evaluate": "Benchmark NeRMo and baselines on held-out CMU mocap (MPJPE per horizon).",
    "calibrate": "Calibrate the forecast radius on held-out mocap and report its coverage.",
    "export": "Export the adapt-and-predict step to ONNX (and a TensorRT engine where possible).",
    "bench": "Time the adapt-and-predict backends per number of people and adaptation steps.",
    "bag": "Record, convert, replay and evaluate rosbag2 files of skeletons and forecasts.",
    "perception": "Build the pose bundle; benchmark perception on real videos (people, ids, "
                  "latency, 30 Hz budget) and against a multi-camera 3D reference.",
    "perception_noise": "Measure MediaPipe's skeleton noise on the packaged real videos and "
                        "write the noise model (config/perception_noise.yaml).",
}

# Optional dependencies by top-level module: what provides each in a `pip install .` of the
# core (setup.py's extras). ROS 2 itself comes from `./nermo` or a ROS 2 workspace.
_EXTRAS = {"onnx": "export", "onnxruntime": "export", "onnxscript": "export", "google": "export",
           "rosbags": "bag", "mediapipe": "perception", "cv2": "perception",
           "matplotlib": "plots"}
_ROS_SETUP = ("ROS 2's Python packages (./nermo sets them up; in a ROS 2 workspace, source "
              "install/setup.bash)")


def missing_dependency_hint(error: ModuleNotFoundError) -> str | None:
    """What to install for a module that is not there, or None when it is no optional
    dependency (a broken install of the package itself)."""
    top = (error.name or "").partition(".")[0]
    if top in _EXTRAS:
        return f"pip install 'nermo_ros[{_EXTRAS[top]}]' (or ./nermo for everything)"
    if top == "rclpy" or top.startswith("rosidl") or top.endswith("_msgs") or \
            error.name == "nermo_ros.msg":
        return _ROS_SETUP
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nermo-ros",
        description="Forecast where people are going to be, from 3D skeletons, for ROS 2 planners.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, summary in VERBS.items():
        sub.add_parser(verb, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in VERBS:
        parser = build_parser()
        if argv and argv[0] not in ("-h", "--help"):
            parser.print_usage(sys.stderr)
            print(f"nermo-ros: unknown verb {argv[0]!r}; choose one of {', '.join(VERBS)}",
                  file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    verb, rest = argv[0], argv[1:]
    try:
        module = importlib.import_module(f"nermo_ros.commands.{verb}")
        verb_parser = argparse.ArgumentParser(prog=f"nermo-ros {verb}", description=VERBS[verb])
        module.add_arguments(verb_parser)
        args = verb_parser.parse_args(rest)
        return int(module.run(args) or 0)
    except ModuleNotFoundError as error:
        hint = missing_dependency_hint(error)
        if hint is None or os.environ.get("NERMO_TRACEBACK") == "1":
            raise
        print(f"nermo-ros {verb}: needs the module {error.name!r}, which is not installed: "
              f"{hint}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        # What a user gave that cannot be used (a missing file, a malformed config): the
        # message says what and why; the traceback only where the code is being debugged.
        if os.environ.get("NERMO_TRACEBACK") == "1":
            raise
        print(f"nermo-ros {verb}: {error}", file=sys.stderr)
        print("(NERMO_TRACEBACK=1 shows where it was raised)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
