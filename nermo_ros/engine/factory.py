"""make_engine: from a backend name and a NeRMo model to a ready numpy-in/numpy-out Engine."""

from __future__ import annotations

import logging
from pathlib import Path

from nermo_ros.engine.engine import Engine
from nermo_ros.engine.select import DEFAULT_GPU_PRECISION, check_gpu_precision, choose
from nermo_ros.engine.spec import DEFAULT_BUCKETS, AdaptProgram

log = logging.getLogger(__name__)


def make_backend(name: str, program: AdaptProgram, device: str, cache_dir: Path | None = None,
                 gpu_precision: str = DEFAULT_GPU_PRECISION):
    """The backend object for a resolved (name, device); see ``select.choose``.
    ``gpu_precision`` ("tf32" or "fp32") sets the GPU backends' matrix products; "fp32" also
    keeps TensorRT at strict FP32."""
    if name == "torch":
        from nermo_ros.engine.backends.torch_eager import TorchBackend

        return TorchBackend(program, device)
    if name == "cudagraph":
        from nermo_ros.engine.backends.cudagraph import CudaGraphBackend

        return CudaGraphBackend(program, gpu_precision)
    if name == "inductor":
        from nermo_ros.engine.backends.cudagraph import InductorBackend

        return InductorBackend(program, gpu_precision)
    if name == "onnxruntime":
        from nermo_ros.engine.backends.onnxruntime import OrtBackend

        return OrtBackend(program, device, cache_dir)
    if name == "tensorrt":
        from nermo_ros.engine.backends.tensorrt import TensorRTBackend

        return TensorRTBackend(program, cache_dir, ("fp32",) if gpu_precision == "fp32" else None)
    raise ValueError(f"unknown backend {name!r}")


def engine_for_program(program: AdaptProgram, backend: str = "auto", device: str = "auto",
                       fallback_to_cpu: bool = False, cache_dir: Path | None = None,
                       gpu_precision: str = DEFAULT_GPU_PRECISION) -> Engine:
    """Resolve the backend (failing clearly, or falling back with a warning) and build it."""
    check_gpu_precision(gpu_precision)
    choice = choose(backend, device, fallback_to_cpu)
    if choice.warning:
        log.warning(choice.warning)
    engine = Engine(program, make_backend(choice.backend, program, choice.device, cache_dir,
                                          gpu_precision))
    engine.startup_warning = choice.warning
    return engine


def make_engine(
    backend: str = "auto", checkpoint=None, steps: int = 2, *, window_frames: int,
    num_queries: int, device: str = "auto", buckets: tuple[int, ...] = DEFAULT_BUCKETS,
    fallback_to_cpu: bool = False, cache_dir: Path | None = None, params=None, config=None,
    gpu_precision: str = DEFAULT_GPU_PRECISION,
) -> Engine:
    """An Engine for a NeRMo checkpoint (a path; None: the shipped model) or for given
    ``params`` and ``config``.

    Call it as ``pred, z, recon = engine(obs_t, obs_x, obs_mask, z_init, query_t)``.
    """
    from nermo_ros.engine.models import load_nermo
    from nermo_ros.engine.program import nermo_program

    if params is None or config is None:
        params, config, _, _ = load_nermo(checkpoint)  # None: the shipped model
    program = nermo_program(params, config, steps, window_frames, num_queries, buckets)
    return engine_for_program(program, backend, device, fallback_to_cpu, cache_dir, gpu_precision)

