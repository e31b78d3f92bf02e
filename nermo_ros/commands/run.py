"""`nermo-ros run`: the perception and predictor nodes in one process, as the launch file does."""

from __future__ import annotations

import argparse
import time

import yaml



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Starts the perception node (camera images -> 3D skeletons on `skeletons`) and the "
        "predictor node (skeletons -> forecasts on /human_forecast, markers, /diagnostics) in "
        "this process, with the same YAML files and arguments as launch/predict.launch.py. "
        "Stop it with Ctrl-C.")
    parser.add_argument("--input", default="", metavar="CAMERA|VIDEO|TOPIC",
                        help="camera number (0 or /dev/video0), video file, or "
                             "sensor_msgs/Image topic (default: the perception config's)")
    parser.add_argument("--predictor", default=None,
                        help="nermo, constant_velocity or zero_velocity (default: the config's)")
    parser.add_argument("--backend", default=None, help="NeRMo backend (default: the config's)")
    parser.add_argument("--predictor-config", default=None, metavar="YAML",
                        help="predictor parameter file (default: config/predictor.yaml)")
    parser.add_argument("--perception-config", default=None, metavar="YAML",
                        help="perception parameter file (default: config/perception.yaml)")
    parser.add_argument("--no-perception", action="store_true",
                        help="start only the predictor (skeletons come from another source, "
                             "e.g. a bag)")
    parser.add_argument("--set", action="append", default=[], metavar="NODE.NAME=VALUE",
                        help="override one parameter, e.g. --set predictor.window_s=2.0 "
                             "(repeatable; VALUE is read as YAML)")
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="stop after this many seconds (default: run until Ctrl-C)")


def parse_sets(items: list[str]) -> dict[str, dict]:
    """``["predictor.window_s=2.0"]`` -> ``{"predictor": {"window_s": 2.0}}``."""
    overrides: dict[str, dict] = {"predictor": {}, "perception": {}}
    for item in items:
        target, sep, value = item.partition("=")
        node, dot, name = target.partition(".")
        if not sep or not dot or node not in overrides or not name:
            raise ValueError(f"--set {item!r} must look like predictor.NAME=VALUE or "
                             f"perception.NAME=VALUE")
        overrides[node][name] = yaml.safe_load(value)
    return overrides


def run(args: argparse.Namespace) -> int:
    from nermo_ros.nodes.bringup import input_overrides

    try:
        overrides = parse_sets(args.set)
        overrides["perception"].update(input_overrides(args.input))
    except (ValueError, FileNotFoundError) as error:
        print(f"nermo-ros run: {error}")
        return 2
    for name in ("predictor", "backend"):
        if getattr(args, name):
            overrides["predictor"][name] = getattr(args, name)

    import rclpy
    from rclpy.executors import ExternalShutdownException

    from nermo_ros.nodes.bringup import build_nodes, spin_until

    rclpy.init()
    nodes = []
    try:
        nodes = build_nodes(args.predictor_config, overrides["predictor"],
                            args.perception_config, overrides["perception"],
                            with_perception=not args.no_perception)
        started_s = time.monotonic()
        print(f"running {', '.join(node.get_name() for node in nodes)}; Ctrl-C stops")
        spin_until(nodes, lambda: args.duration is not None
                   and time.monotonic() - started_s >= args.duration)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"nermo-ros run: {error}")
        return 2
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
