"""Which backends exist here, which one ``auto`` picks, and what to say when one is missing."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import torch

BACKENDS: tuple[str, ...] = ("torch", "cudagraph", "inductor", "onnxruntime", "tensorrt")
GPU_ONLY: frozenset[str] = frozenset({"cudagraph", "inductor", "tensorrt"})
# Fastest first, from the tables in BENCHMARKS.md ("nermo-ros bench"). ``inductor`` is faster
# per call than ``cudagraph`` but compiles for minutes at a first start, so it is opt-in.
AUTO_ORDER_GPU: tuple[str, ...] = ("tensorrt", "cudagraph", "onnxruntime", "torch")
AUTO_ORDER_CPU: tuple[str, ...] = ("onnxruntime", "torch")
BACKEND_CHOICES: tuple[str, ...] = ("auto",) + BACKENDS
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


class BackendUnavailable(RuntimeError):
    """A requested backend cannot run here; the message names what is missing."""


@dataclass(frozen=True)
class Choice:
    backend: str
    device: str  # "cpu" or "cuda"
    fallback_reason: str = ""  # "" when what was asked runs; else why something else does


def gpu_available() -> bool:
    return torch.cuda.is_available()


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check_backend(backend: str) -> None:
    """Refuse a backend name that does not exist (a typo must not start a slower backend)."""
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKEND_CHOICES)}")


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")


def missing(backend: str, device: str) -> str | None:
    """None if ``backend`` can run on ``device`` here, else what is missing, for people.
    An unknown backend or device is a ValueError, not something missing."""
    check_backend(backend)
    check_device(device)
    if backend == "auto" or device == "auto":
        raise ValueError(f"missing() takes a resolved backend and device, got {backend!r} on "
                         f"{device!r}; resolve 'auto' with choose()")
    needs_gpu = backend in GPU_ONLY or device == "cuda"
    if needs_gpu and not gpu_available():
        return (f"backend {backend!r} on {device} needs a CUDA GPU, but torch "
                f"{torch.__version__} sees none (torch.cuda.is_available() is False)")
    if backend == "onnxruntime":
        absent = [m for m in ("onnxruntime", "onnx", "onnxscript") if not _installed(m)]
        if absent:
            return f"backend 'onnxruntime' needs {', '.join(absent)} (pip install nermo_ros[export])"
        if device == "cuda":
            import onnxruntime as ort

            if "CUDAExecutionProvider" not in ort.get_available_providers():
                return (f"backend 'onnxruntime' on cuda needs the onnxruntime-gpu build; onnxruntime "
                        f"{ort.__version__} here has only {ort.get_available_providers()}")
    if backend == "inductor" and not _installed("triton"):
        return "backend 'inductor' needs triton (it comes with CUDA builds of torch)"
    if backend == "tensorrt":
        if not _installed("tensorrt"):
            return ("backend 'tensorrt' needs the TensorRT Python package with its builder "
                    "(pip install tensorrt), which is not installed")
        absent = [m for m in ("onnx", "onnxscript") if not _installed(m)]
        if absent:
            return f"backend 'tensorrt' builds from ONNX and needs {', '.join(absent)}"
    return None


# Matrix products on the GPU backends: "tf32" lets them use tensor cores (10-bit mantissa),
# "fp32" keeps them exact. On the held-out CMU split TF32 changed the shipped model's error
# by at most 0.01 mm and no forecast joint by more than 1.7 mm, and it made the inductor
# step about 30 % faster on an H100 (BENCHMARKS.md). TensorRT checks its own precisions;
# "fp32" holds it to strict FP32 too.
GPU_PRECISIONS: tuple[str, ...] = ("tf32", "fp32")
DEFAULT_GPU_PRECISION = "tf32"


def check_gpu_precision(precision: str) -> None:
    if precision not in GPU_PRECISIONS:
        raise ValueError(f"gpu_precision must be one of {', '.join(GPU_PRECISIONS)}, "
                         f"got {precision!r}")


def default_device(backend: str) -> str:
    """Where a backend runs unless told: the GPU if it can use one here. ONNX Runtime's CPU
    build next to a GPU runs on the CPU (asking it for CUDA would refuse it outright)."""
    if backend in GPU_ONLY:
        return "cuda"
    if backend == "onnxruntime" and gpu_available():
        return "cuda" if missing("onnxruntime", "cuda") is None else "cpu"
    return "cuda" if gpu_available() else "cpu"


def choose(requested: str = "auto", device: str = "auto", fallback_to_cpu: bool = False) -> Choice:
    """Resolve ``requested`` (a backend name or 'auto') and ``device`` ('auto', 'cpu', 'cuda').

    An unknown name is a ValueError. 'auto' takes the fastest backend that can run; if that
    is eager PyTorch (no compiled backend installed) ``Choice.fallback_reason`` says why. A
    named backend that cannot run raises BackendUnavailable, unless ``fallback_to_cpu`` and
    only the GPU is missing: then the best CPU backend runs and ``fallback_reason`` says so.
    These are the only fallbacks.
    """
    check_backend(requested)
    check_device(device)
    if requested == "auto":
        return _auto(device)
    dev = default_device(requested) if device == "auto" else device
    problem = missing(requested, dev)
    if problem is None:
        return Choice(requested, dev)
    if fallback_to_cpu and dev == "cuda" and not gpu_available():
        fallback = _auto("cpu")
        reason = f"{problem}; falling back to {fallback.backend!r} on the CPU"
        if fallback.fallback_reason:
            reason += f" ({fallback.fallback_reason})"
        return Choice(fallback.backend, "cpu", reason)
    raise BackendUnavailable(f"{problem}. Pick another backend (or 'auto') to run without it.")


def _auto(device: str) -> Choice:
    order = AUTO_ORDER_GPU if device != "cpu" and gpu_available() else AUTO_ORDER_CPU
    skipped = []
    for name in order:
        dev = default_device(name) if device == "auto" else device
        problem = missing(name, dev)
        if problem is None:
            reason = ""
            if name == "torch" and skipped:
                reason = ("no compiled backend can run here (" + "; ".join(skipped) +
                          "), so eager PyTorch runs, several times slower")
            return Choice(name, dev, reason)
        skipped.append(problem)
    raise BackendUnavailable("no adapt-and-predict backend can run here: " + "; ".join(skipped))
