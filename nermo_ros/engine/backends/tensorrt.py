"""TensorRT: an engine per batch bucket, built from the same ONNX graph and cached on disk.

The graph is the exported ONNX with its LayerNorms rewritten to one output each (TensorRT's
parser refuses the Mean/InvStdDev outputs the backward pass uses; ``onnx_passes``).
Build order is FP16 (with TF32), then TF32, then strict FP32: the first precision whose
forecast stays within ``PRECISION_TOLERANCE`` of eager PyTorch on a test window is kept.
TensorRT 11 removed the FP16 builder flag (networks are strongly typed, so FP16 would need an
FP16 ONNX graph); there the ladder starts at TF32. An
engine is cached under a key of the ONNX graph's bytes, the TensorRT version, the GPU and
its compute capability, so a later start loads it in milliseconds instead of rebuilding; a
cached engine that fails its content hash or does not deserialize is built again
(``cache.load_or_rebuild``).

Written against the TensorRT 10 Python API (named I/O tensors, ``execute_async_v3``); it also
accepts TensorRT 8.6, which needs the explicit-batch network flag.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import torch

from nermo_ros.engine.cache import (atomic_write_bytes, cache_key, default_cache_dir,
                                    load_or_rebuild, remove_artefact)
from nermo_ros.engine.export import ensure_onnx, onnx_parse_errors, parse_onnx
from nermo_ros.engine.onnx_passes import single_output_layer_norms
from nermo_ros.engine.parity import REDUCED_PRECISION_ATOL
from nermo_ros.engine.spec import INPUT_NAMES, OUTPUT_NAMES, AdaptProgram, example_inputs

PRECISIONS: tuple[str, ...] = ("fp16", "tf32", "fp32")
# Largest |pred - eager pred| (model units) a reduced precision may add, checked at build time.
PRECISION_TOLERANCE = REDUCED_PRECISION_ATOL
WORKSPACE_BYTES = 1 << 30


def supported_precisions() -> tuple[str, ...]:
    """The precisions of PRECISIONS this TensorRT's builder flags can express."""
    import tensorrt as trt

    flags = trt.BuilderFlag
    return tuple(p for p in PRECISIONS if p != "fp16" or hasattr(flags, "FP16"))


class UndeserializableEngine(RuntimeError):
    """TensorRT returned no engine for a serialized plan (corrupt, or built by another version)."""


_LOGGER = None


def _logger():
    """One logger for the process: TensorRT objects keep using the logger they were made with."""
    global _LOGGER
    if _LOGGER is None:
        import tensorrt as trt

        _LOGGER = trt.Logger(trt.Logger.WARNING)
    return _LOGGER


def tensorrt_onnx(program: AdaptProgram, bucket: int, cache_dir: Path | None) -> Path:
    """The exported graph rewritten for TensorRT's parser (``onnx_passes``), cached beside it."""
    source = ensure_onnx(program, bucket, cache_dir)
    return load_or_rebuild(source.with_name(f"{source.stem}_trt.onnx"),
                           lambda: single_output_layer_norms(source.read_bytes()), parse_onnx,
                           onnx_parse_errors(), f"TensorRT ONNX graph (batch {bucket})")


def build_serialized_engine(onnx_path: Path, precision: str) -> bytes:
    """Parse the ONNX graph (static shapes) and build a serialized engine at ``precision``."""
    import tensorrt as trt

    logger = _logger()
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build {onnx_path} at {precision}; see its log above")
    return bytes(serialized)


def engine_cache_path(onnx_path: Path, precision: str, cache_dir: Path | None) -> Path:
    import tensorrt as trt

    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    onnx_hash = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    key = cache_key(onnx=onnx_hash, trt=trt.__version__, gpu=props.name,
                    sm=f"{props.major}.{props.minor}", precision=precision)
    return (cache_dir or default_cache_dir()) / "tensorrt" / f"{onnx_path.stem}_{precision}_{key}.plan"


class TrtRunner:
    """One deserialized engine and context with device buffers bound once."""

    def __init__(self, plan: bytes, program: AdaptProgram, bucket: int):
        import tensorrt as trt

        spec = program.spec
        self.runtime = trt.Runtime(_logger())
        self.engine = self.runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise UndeserializableEngine(f"TensorRT {trt.__version__} could not deserialize the "
                                         "engine (see its log above)")
        self.context = self.engine.create_execution_context()
        self._host_in = [torch.zeros(s, pin_memory=True) for s in spec.input_shapes(bucket)]
        self._host_out = [torch.zeros(s, pin_memory=True) for s in spec.output_shapes(bucket)]
        self.inputs = tuple(t.numpy() for t in self._host_in)
        self.outputs = tuple(t.numpy() for t in self._host_out)
        self._dev_in = [torch.zeros(s, device="cuda") for s in spec.input_shapes(bucket)]
        self._dev_out = [torch.zeros(s, device="cuda") for s in spec.output_shapes(bucket)]
        for name, tensor in zip(INPUT_NAMES + OUTPUT_NAMES, self._dev_in + self._dev_out):
            self.context.set_tensor_address(name, tensor.data_ptr())
        self.stream = torch.cuda.Stream()

    def run(self) -> None:
        with torch.cuda.stream(self.stream):
            for dev, host in zip(self._dev_in, self._host_in):
                dev.copy_(host, non_blocking=True)
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execute_async_v3 failed; see its log above")
            for host, dev in zip(self._host_out, self._dev_out):
                host.copy_(dev, non_blocking=True)
        self.stream.synchronize()


def max_pred_error(runner: TrtRunner, program: AdaptProgram, bucket: int) -> float:
    """Largest |pred - eager pred| on a test window, eager PyTorch in FP32 on the same GPU."""
    inputs = example_inputs(program.spec, bucket, seed=1)
    for dst, src in zip(runner.inputs, inputs):
        dst[...] = src
    runner.run()
    params = program.params_on("cuda")
    with torch.no_grad():
        ref = program.call(params, *(torch.from_numpy(a).cuda() for a in inputs))[0]
    return float((torch.from_numpy(runner.outputs[0]).cuda() - ref).abs().max())


class TensorRTBackend:
    name = "tensorrt"
    device = "cuda"

    def __init__(self, program: AdaptProgram, cache_dir: Path | None = None,
                 precisions: tuple[str, ...] | None = None):
        import tensorrt as trt

        self.program = program
        self.cache_dir = cache_dir
        self.precisions = precisions or supported_precisions()
        self.chosen: dict[int, tuple[str, float]] = {}  # bucket -> (precision, max error)
        self.detail = f"TensorRT {trt.__version__} on {torch.cuda.get_device_name()}"

    def runner(self, bucket: int) -> TrtRunner:
        onnx_path = tensorrt_onnx(self.program, bucket, self.cache_dir)
        for precision in self.precisions:
            path = engine_cache_path(onnx_path, precision, self.cache_dir)
            verdict = path.with_suffix(".json")
            if _rejected(verdict):
                continue  # this precision was already found too inaccurate on this GPU
            runner = load_or_rebuild(
                path, functools.partial(build_serialized_engine, onnx_path, precision),
                lambda plan: TrtRunner(plan.read_bytes(), self.program, bucket),
                (UndeserializableEngine,), f"TensorRT engine (batch {bucket}, {precision})")
            error = max_pred_error(runner, self.program, bucket)
            accepted = error <= PRECISION_TOLERANCE or precision == self.precisions[-1]
            atomic_write_bytes(verdict, json.dumps({"accepted": accepted, "max_error": error}).encode())
            if accepted:
                self.chosen[bucket] = (precision, error)
                self.detail = f"{self.detail.split(' [')[0]} [{precision}]"
                return runner
            remove_artefact(path)
        raise RuntimeError(f"no TensorRT precision of {self.precisions} was accepted")


def _rejected(verdict: Path) -> bool:
    """True if a cached verdict says this engine's precision was too inaccurate. A verdict
    that cannot be read counts as none: the engine is simply checked again."""
    if not verdict.is_file():
        return False
    try:
        return json.loads(verdict.read_text())["accepted"] is False
    except (json.JSONDecodeError, KeyError, TypeError):
        return False
