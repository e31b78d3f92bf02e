"""make_engine: from a backend name and a NeRMo model to a ready numpy-in/numpy-out Engine."""

from __future__ import annotations

from pathlib import Path

from nermo_ros.engine.engine import Engine
from nermo_ros.engine.select import (BACKENDS, DEFAULT_GPU_PRECISION, Choice, check_gpu_precision,
                                     choose)
from nermo_ros.engine.spec import DEFAULT_BUCKETS, AdaptProgram


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
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def engine_for_program(program: AdaptProgram, backend: str = "auto", device: str = "auto",
                       fallback_to_cpu: bool = False, cache_dir: Path | None = None,
                       gpu_precision: str = DEFAULT_GPU_PRECISION) -> Engine:
    """Resolve the backend (``select.choose``: refusing, or falling back with a reason the
    engine keeps in ``fallback_reason``) and build it, every bucket."""
    check_gpu_precision(gpu_precision)
    return engine_for_choice(program, choose(backend, device, fallback_to_cpu), cache_dir,
                             gpu_precision)


def engine_for_choice(program: AdaptProgram, choice: Choice, cache_dir: Path | None = None,
                      gpu_precision: str = DEFAULT_GPU_PRECISION) -> Engine:
    """The Engine of an already resolved backend choice."""
    backend = make_backend(choice.backend, program, choice.device, cache_dir, gpu_precision)
    return Engine(program, backend, choice.fallback_reason)


def make_engine(
    backend: str = "auto", checkpoint=None, *, steps: int, window_frames: int,
    num_queries: int, device: str = "auto", buckets: tuple[int, ...] = DEFAULT_BUCKETS,
    fallback_to_cpu: bool = False, cache_dir: Path | None = None, params=None, config=None,
    gpu_precision: str = DEFAULT_GPU_PRECISION,
) -> Engine:
    """An Engine for a NeRMo checkpoint (a path; None: the shipped model) or for given
    ``params`` and ``config``, unrolling ``steps`` adaptation steps. There is no default for
    ``steps``: the node passes its ``num_adapt_steps``, offline tools the checkpoint's
    ``default_steps`` (``models.load_nermo``).

    Call it as ``pred, z, recon = engine(obs_t, obs_x, obs_mask, z_init, query_t)``.
    """
    from nermo_ros.engine.models import load_nermo
    from nermo_ros.engine.program import nermo_program

    if params is None or config is None:
        params, config, _, _ = load_nermo(checkpoint)  # None: the shipped model
    program = nermo_program(params, config, steps, window_frames, num_queries, buckets)
    return engine_for_program(program, backend, device, fallback_to_cpu, cache_dir, gpu_precision)
