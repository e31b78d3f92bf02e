"""`nermo-ros bench`: adapt-and-predict latency per backend x people x K, the warm-start
study (error against adaptation steps, cold vs warm start, on held-out CMU data), or the
predictor node under a steady crowd over DDS (``--node-load``; a soak with ``--duration 600``)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace



def _ints(text: str, minimum: int = 0) -> list[int]:
    """A comma-separated list of whole numbers, each at least ``minimum``."""
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers separated by commas")
    if not values or min(values) < minimum:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers of at least {minimum}")
    return values


def _people(text: str) -> list[int]:
    return _ints(text, minimum=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None,
                        help="NeRMo checkpoint (default: the packaged model, if any)")
    parser.add_argument("--random-weights", action="store_true",
                        help="time an untrained model of the default size (latency does not "
                             "depend on the weights)")
    parser.add_argument("--backends", default="available",
                        help="comma list of backend[:device], or 'available' (default)")
    parser.add_argument("--people", type=_people, default=[1, 4, 16], help="e.g. 1,4,16")
    parser.add_argument("--steps", type=_ints, default=[1, 3, 5], help="K values, e.g. 1,3,5")
    from nermo_ros.predictors.base import DEFAULT_MIRROR_AVERAGE

    parser.add_argument("--mirror-average", action=argparse.BooleanOptionalAction,
                        default=DEFAULT_MIRROR_AVERAGE, help="time (and study) the "
                        "mirror-averaged step, twice the batch (default: the node's choice)")
    parser.add_argument("--window-frames", type=int, default=10,
                        help="T observed frames (the CMU protocol's 10)")
    parser.add_argument("--num-queries", type=int, default=9, help="Q horizons (predictor.yaml)")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per cell (at most)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=8.0,
                        help="stop a cell after this long once 10 calls are timed")
    from nermo_ros.engine.select import DEFAULT_GPU_PRECISION, GPU_PRECISIONS

    parser.add_argument("--gpu-precision", default=DEFAULT_GPU_PRECISION, choices=GPU_PRECISIONS,
                        help=f"matrix products of the GPU backends (default {DEFAULT_GPU_PRECISION})")
    parser.add_argument("--cache-dir", default=None, help="ONNX/TensorRT cache (default "
                                                          "$NERMO_CACHE_DIR or ~/.cache/nermo_ros)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--warm-start-study", action="store_true",
                        help="instead: error vs adaptation steps, cold vs warm start, held-out CMU")
    parser.add_argument("--study-steps", type=_ints, default=[0, 1, 2, 3, 5, 10])
    parser.add_argument("--study-frames", type=int, default=10, help="scored frames per stream")
    parser.add_argument("--study-lead-in", type=int, default=5,
                        help="unscored frames a warm chain runs before scoring")
    parser.add_argument("--study-blends", type=lambda t: [float(v) for v in t.split(",")],
                        default=[1.0, 0.5], help="warm starts at z0 + blend * (z_prev - z0)")
    parser.add_argument("--study-per-trial", type=int, default=4,
                        help="streams taken from each held-out trial")
    load = parser.add_argument_group("node load (--node-load)")
    load.add_argument("--node-load", action="store_true",
                      help="instead: run the predictor node as `nermo-ros run --no-perception` "
                           "does, send it a crowd over DDS and report answered frames, camera "
                           "-> forecast latency, its counts and its memory")
    load.add_argument("--rate-hz", type=float, default=30.0, help="frames per second sent")
    load.add_argument("--crowd", type=int, default=8, help="people in every frame")
    load.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    load.add_argument("--warmup-s", type=float, default=10.0, help="unmeasured seconds first")
    load.add_argument("--churn-s", type=float, default=0.0,
                      help="each person leaves after this long and a new one comes (0: never)")
    load.add_argument("--node-set", action="append", default=[], metavar="NAME=VALUE",
                      help="a predictor parameter for the node (repeatable), e.g. backend=torch")
    load.add_argument("--node-log", default="", help="write the node's output to this file")


def available_targets() -> list[tuple[str, str]]:
    from nermo_ros.engine.select import BACKENDS, gpu_available, missing

    device = "cuda" if gpu_available() else "cpu"
    return [(b, device) for b in BACKENDS if missing(b, device) is None]


def parse_targets(text: str) -> list[tuple[str, str]]:
    from nermo_ros.engine.select import default_device

    if text == "available":
        return available_targets()
    targets = []
    for item in text.split(","):
        name, _, device = item.partition(":")
        targets.append((name, device or default_device(name)))
    return targets


def run(args: argparse.Namespace) -> int:
    if args.node_load:
        return run_node_load(args)
    from nermo_ros.engine.models import load_model_or_random

    params, config, source = load_model_or_random(args.checkpoint, args.random_weights)
    config = replace(config, mirror_average=args.mirror_average)
    source += ", mirror-averaged" if args.mirror_average else ""
    if args.warm_start_study:
        from nermo_ros.evaluation.warm_start import run_study

        return run_study(params, config, source, args)
    return run_latency(params, config, source, args)


def run_latency(params, config, source: str, args: argparse.Namespace) -> int:
    from pathlib import Path

    from nermo_ros.engine import BackendUnavailable, engine_for_program
    from nermo_ros.engine.bench import machine_description, markdown_table, time_engine
    from nermo_ros.engine.program import nermo_program

    cache_dir = Path(args.cache_dir) if args.cache_dir else None
    buckets = tuple(sorted(set(args.people)))
    print(f"machine: {machine_description()}")
    print(f"model: {source}; T={args.window_frames} Q={args.num_queries} J={config.num_joints}")
    timings = []
    for backend, device in parse_targets(args.backends):
        for steps in args.steps:
            program = nermo_program(params, config, steps, args.window_frames, args.num_queries, buckets)
            try:
                engine = engine_for_program(program, backend, device, cache_dir=cache_dir,
                                            gpu_precision=args.gpu_precision)
            except (BackendUnavailable, ValueError) as error:  # cannot run here; unknown name
                print(f"nermo-ros bench: {error}", file=sys.stderr)
                return 2
            for people in args.people:
                t = time_engine(engine, people, args.calls, args.warmup, args.max_seconds)
                print(f"  {engine.describe():<60} people={people:>2} p50={t.p50_ms:8.2f} ms "
                      f"p99={t.p99_ms:8.2f} ms", flush=True)
                timings.append(t)
    print()
    print(markdown_table(timings))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_description(), "model": source,
                                               "timings": [asdict(t) for t in timings]}, indent=1))
    return 0


def run_node_load(args: argparse.Namespace) -> int:
    from nermo_ros.engine.bench import machine_description
    from nermo_ros.load.node_load import LoadSettings, crowd_from_clip, run_node_load as load

    node_args = tuple(arg for item in args.node_set for arg in ("--set", f"predictor.{item}"))
    settings = LoadSettings(rate_hz=args.rate_hz, people=args.crowd, duration_s=args.duration,
                            warmup_s=args.warmup_s, churn_s=args.churn_s, node_args=node_args,
                            log_path=args.node_log)
    print(f"machine: {machine_description()}")
    try:
        result = load(settings, crowd_from_clip(args.crowd, args.churn_s))
    except RuntimeError as error:  # the node did not come up: say why, no traceback
        print(f"nermo-ros bench: {error}", file=sys.stderr)
        return 2
    print("\n".join(result.lines()))
    if args.json:
        from pathlib import Path

        from nermo_ros.load.node_load import summary_numbers

        Path(args.json).write_text(json.dumps({"machine": machine_description(),
                                               "settings": asdict(settings),
                                               **summary_numbers(result),
                                               "node_status": result.node_status,
                                               "rss_mb": result.rss_mb}, indent=1))
    return 0 if result.node_exit_code == 0 else 1
