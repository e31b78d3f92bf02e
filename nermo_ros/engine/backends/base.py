"""The one interface every backend implements: a runner per batch bucket.

A runner owns static host arrays for its bucket's inputs and outputs. The engine copies a
call's arrays into ``inputs``, calls ``run()``, and reads ``outputs``; nothing is allocated
per call by the compiled backends (eager PyTorch allocates inside the model, as eager does).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Runner(Protocol):
    inputs: tuple[np.ndarray, ...]  # INPUT_NAMES order, float32, shapes spec.input_shapes(bucket)
    outputs: tuple[np.ndarray, ...]  # OUTPUT_NAMES order, float32, spec.output_shapes(bucket)

    def run(self) -> None:
        """Compute outputs from inputs (blocking: outputs are ready on return)."""
        ...


class Backend(Protocol):
    name: str  # "torch", "cudagraph", "onnxruntime", "tensorrt"
    device: str  # "cpu" or "cuda"
    detail: str  # e.g. provider, precision; goes into diagnostics

    def runner(self, bucket: int) -> Runner:
        ...


def host_arrays(shapes: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, ...]:
    return tuple(np.zeros(shape, dtype=np.float32) for shape in shapes)

