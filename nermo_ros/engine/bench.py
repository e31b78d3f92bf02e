"""Latency of the adapt-and-predict engines: timing, machine description, tables.

Times a whole engine call as the predictor sees it: copy the window in, run, copy out.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from dataclasses import dataclass

import numpy as np
import torch

from nermo_ros.engine.engine import Engine
from nermo_ros.engine.spec import example_inputs
from nermo_ros.stats import percentiles_ms


@dataclass(frozen=True)
class Timing:
    backend: str
    device: str
    people: int
    steps: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    calls: int


def time_engine(engine: Engine, people: int, calls: int, warmup: int,
                max_seconds: float = float("inf"), min_calls: int = 10) -> Timing:
    """p50/p99 of up to ``calls`` timed calls after ``warmup`` untimed ones; stops early after
    ``max_seconds`` once ``min_calls`` are in, so slow eager cells do not take minutes."""
    inputs = example_inputs(engine.spec, people)
    for _ in range(warmup):
        engine(*inputs)
    samples = np.empty(calls)
    began = time.perf_counter()
    count = 0
    while count < calls and (count < min_calls or time.perf_counter() - began < max_seconds):
        start = time.perf_counter()
        engine(*inputs)
        samples[count] = time.perf_counter() - start
        count += 1
    p50, p99 = percentiles_ms(samples[:count])
    return Timing(engine.backend.name, engine.backend.device, people, engine.spec.steps,
                  p50, p99, 1e3 * float(samples[:count].mean()), count)


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores", f"torch {torch.__version__}"]
    if torch.cuda.is_available():
        parts.insert(1, torch.cuda.get_device_name())
    try:
        import onnxruntime as ort

        parts.append(f"onnxruntime {ort.__version__}")
    except ImportError:
        pass
    try:
        import tensorrt as trt

        parts.append(f"TensorRT {trt.__version__}")
    except ImportError:
        pass
    return "; ".join(parts) + f"; {datetime.date.today().isoformat()}"


def speedups(timings: list[Timing]) -> dict[tuple, float]:
    """p50 speed-up over eager torch on the same device, people and K."""
    eager = {(t.device, t.people, t.steps): t.p50_ms for t in timings if t.backend == "torch"}
    return {(t.backend, t.device, t.people, t.steps): eager[(t.device, t.people, t.steps)] / t.p50_ms
            for t in timings if (t.device, t.people, t.steps) in eager}


def markdown_table(timings: list[Timing]) -> str:
    ups = speedups(timings)
    rows = ["| backend | device | people | K | p50 ms | p99 ms | speed-up vs eager (p50) | calls |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for t in sorted(timings, key=lambda t: (t.device, t.backend, t.steps, t.people)):
        up = ups.get((t.backend, t.device, t.people, t.steps))
        rows.append(f"| {t.backend} | {t.device} | {t.people} | {t.steps} | {t.p50_ms:.2f} | "
                    f"{t.p99_ms:.2f} | {'-' if up is None else f'{up:.1f}x'} | {t.calls} |")
    return "\n".join(rows)
