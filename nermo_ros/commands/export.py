"""`nermo-ros export`: the adapt-and-predict step of a checkpoint as ONNX graphs (one per
batch bucket), checked against eager PyTorch, and TensorRT engines where TensorRT exists."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None, help="NeRMo checkpoint (default: shipped)")
    parser.add_argument("--steps", type=int, default=None,
                        help="adaptation steps K unrolled in the graph (default: the checkpoint's)")
    parser.add_argument("--window-frames", type=int, default=10, help="observed frames T")
    parser.add_argument("--num-queries", type=int, default=9, help="forecast times Q")
    parser.add_argument("--buckets", default="1,2,4,8,16", help="batch sizes to export")
    parser.add_argument("--out", default="out/onnx", help="directory for the .onnx files")
    parser.add_argument("--tensorrt", action="store_true",
                        help="also build (and cache) TensorRT engines; needs tensorrt and a GPU")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--for-node", nargs="?", const="config/predictor.yaml", default=None,
                        metavar="PARAMS_YAML",
                        help="instead: build and cache the engine exactly as the predictor node "
                        "would with these parameters (default config/predictor.yaml), so that "
                        "its first start does not wait for the export")


def prepare_for_node(params_yaml: str) -> int:
    """Build the predictor the node's parameter file describes and run its warm-up forecast:
    the compiled graphs land in the cache the node reads at start-up."""
    import time

    import numpy as np

    from nermo_ros.engine import BackendUnavailable
    from nermo_ros.nodes.params import merge_values
    from nermo_ros.nodes.predictor_node import NODE_NAME, PARAMS
    from nermo_ros.predictors.factory import make_predictor_from_params, warm_up

    defaults = {spec.name: spec.default for spec in PARAMS}
    try:
        params = {**defaults, **merge_values(PARAMS, NODE_NAME, params_yaml, None)}
        started_s = time.perf_counter()
        predictor = make_predictor_from_params(params)  # builds the engine
        warm_up(predictor, np.asarray(params["horizons_s"]), params["window_frames"])
        took_s = time.perf_counter() - started_s
    except (FileNotFoundError, ValueError, BackendUnavailable) as error:
        print(f"nermo-ros export: {error}", file=sys.stderr)
        return 2
    if predictor.fallback_reason:
        print(f"nermo-ros export: warning: {predictor.fallback_reason}", file=sys.stderr)
    print(f"{predictor.name}: {predictor.backend_description} ready in {took_s:.1f} s "
          "(cached for the node's next start)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.for_node is not None:
        return prepare_for_node(args.for_node)
    from nermo_ros.engine import BackendUnavailable, engine_for_program
    from nermo_ros.engine.export import ensure_onnx
    from nermo_ros.engine.models import load_nermo
    from nermo_ros.engine.parity import PARITY_ATOL, parity_errors
    from nermo_ros.engine.program import nermo_program

    try:
        params, config, default_steps, model_id = load_nermo(args.checkpoint)
    except (FileNotFoundError, ValueError) as error:
        print(f"nermo-ros export: {error}", file=sys.stderr)
        return 2
    steps = default_steps if args.steps is None else args.steps
    buckets = tuple(sorted({int(b) for b in args.buckets.split(",") if b}))
    cache_dir = Path(args.cache_dir) if args.cache_dir else None
    program = nermo_program(params, config, steps, args.window_frames, args.num_queries, buckets)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for batch in buckets:
        target = out / f"nermo_{model_id}_k{steps}_t{args.window_frames}_q{args.num_queries}_b{batch}.onnx"
        shutil.copyfile(ensure_onnx(program, batch, cache_dir), target)
        print(f"wrote {target}")
    reference = engine_for_program(program, "torch", "cpu")
    targets = [("onnxruntime", "cpu")] + ([("tensorrt", "cuda")] if args.tensorrt else [])
    status = 0
    for backend, device in targets:
        try:
            engine = engine_for_program(program, backend, device, cache_dir=cache_dir)
        except BackendUnavailable as error:
            print(f"nermo-ros export: {error}", file=sys.stderr)
            return 2
        errors = parity_errors(engine, reference, batch=min(3, buckets[-1]))
        worst = max(errors.values())
        verdict = "ok" if worst <= PARITY_ATOL[backend] else "FAILED"
        print(f"{engine.describe()}: max |difference| to eager {worst:.2e} model units "
              f"(tolerance {PARITY_ATOL[backend]:.0e}) {verdict}")
        status |= verdict != "ok"
    return status
