"""ONNX Runtime: the exported graph on CPU, or on CUDA where ORT's GPU build is installed.

Inputs and outputs are bound once per bucket (IOBinding over the runner's own host arrays),
so a call allocates nothing on our side: copy in, run, read out. Creating the session is the
check that a cached graph loads: one ORT refuses is exported again (``cache.load_or_rebuild``).
"""

from __future__ import annotations

from pathlib import Path

from nermo_ros.engine.backends.base import host_arrays
from nermo_ros.engine.export import cached_onnx
from nermo_ros.engine.spec import INPUT_NAMES, OUTPUT_NAMES, AdaptProgram


# One thread runs the graph's ~900 small operators with no hand-offs between threads, and it
# leaves the other cores to perception. On the 2-core development machine (interleaved runs,
# K = 3, one person) one thread gave p50 8.3 / p99 13.4 ms; two sleeping threads 10.7 / 18.8;
# two spinning threads 7.9 / 14.2 alone, but spinning doubled the latency next to perception.
CPU_THREADS = 1


def load_errors() -> tuple[type[BaseException], ...]:
    """What ONNX Runtime raises for a model file it cannot load (a truncated or foreign graph)."""
    from onnxruntime.capi.onnxruntime_pybind11_state import (
        Fail, InvalidArgument, InvalidGraph, InvalidProtobuf, NoSuchFile)

    return Fail, InvalidArgument, InvalidGraph, InvalidProtobuf, NoSuchFile


def session_options(intra_op_threads: int = CPU_THREADS):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = intra_op_threads
    options.log_severity_level = 3  # errors only; ORT warns about harmless shape merges
    # Any pool threads sleep instead of spinning: the node shares the CPU with perception.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OrtRunner:
    def __init__(self, onnx_path: Path, program: AdaptProgram, bucket: int, device: str):
        import onnxruntime as ort

        spec = program.spec
        providers = ["CUDAExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(onnx_path), session_options(), providers=providers)
        self.inputs = host_arrays(spec.input_shapes(bucket))
        self.outputs = host_arrays(spec.output_shapes(bucket))
        # Bound once to the runner's own host arrays; with the CUDA provider ORT copies them
        # to and from the GPU itself.
        self.binding = self.session.io_binding()
        self._values = [ort.OrtValue.ortvalue_from_numpy(a) for a in self.inputs + self.outputs]
        for name, value in zip(INPUT_NAMES, self._values):
            self.binding.bind_ortvalue_input(name, value)
        for name, value in zip(OUTPUT_NAMES, self._values[len(INPUT_NAMES):]):
            self.binding.bind_ortvalue_output(name, value)

    def run(self) -> None:
        self.session.run_with_iobinding(self.binding)


class OrtBackend:
    name = "onnxruntime"

    def __init__(self, program: AdaptProgram, device: str = "cpu", cache_dir: Path | None = None):
        import onnxruntime as ort

        self.program = program
        self.device = device
        self.cache_dir = cache_dir
        provider = "CUDAExecutionProvider" if device == "cuda" else "CPUExecutionProvider"
        self.detail = f"onnxruntime {ort.__version__} {provider}"

    def runner(self, bucket: int) -> OrtRunner:
        return cached_onnx(self.program, bucket, self.cache_dir,
                           lambda path: OrtRunner(path, self.program, bucket, self.device),
                           load_errors())
