"""CUDA graphs: capture the whole K-step adapt-and-predict once per bucket, then replay.

Eager PyTorch on a GPU spends its time launching hundreds of small kernels from Python; a
captured graph launches them all with one call. Capture needs static addresses, so each
bucket owns device tensors for inputs and outputs and pinned host arrays for the copies.

``inductor`` goes one step further: the traced graph (make_fx, as for ONNX) is compiled by
torch.compile, which fuses the elementwise, norm and softmax ops into far fewer kernels,
and the compiled step is captured the same way. Compiling takes tens of seconds per bucket
at start-up (torch caches the kernels on disk for the next start).
"""

from __future__ import annotations

import contextlib
import math

import torch

from nermo_ros.engine.export import trace_program
from nermo_ros.engine.select import DEFAULT_GPU_PRECISION, check_gpu_precision
from nermo_ros.engine.spec import AdaptProgram, example_inputs

WARMUP_RUNS = 3  # on a side stream before capture, as torch.cuda.graphs requires


@contextlib.contextmanager
def matmul_precision(precision: str):
    """The GPU's matrix products at ``precision`` (select.GPU_PRECISIONS) while building: a
    captured graph keeps the kernels chosen at capture."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def _packed(shapes, **kwargs) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One flat tensor and views of it in ``shapes``: one copy moves all of them."""
    flat = torch.zeros(sum(math.prod(s) for s in shapes), **kwargs)
    views, start = [], 0
    for shape in shapes:
        views.append(flat[start:start + math.prod(shape)].view(shape))
        start += math.prod(shape)
    return flat, views


class CudaGraphRunner:
    def __init__(self, program: AdaptProgram, bucket: int, params: dict, step=None):
        """``step(params, *inputs)`` defaults to the program's own (eager) function.

        Inputs and outputs each live in one flat buffer (host pinned, device), so a call is
        one copy in, one graph replay (which also gathers the outputs), one copy out."""
        step = step or program.call
        spec = program.spec
        dev = torch.device("cuda")
        in_shapes, out_shapes = spec.input_shapes(bucket), spec.output_shapes(bucket)
        self._host_in, host_in = _packed(in_shapes, pin_memory=True)
        self._host_out, host_out = _packed(out_shapes, pin_memory=True)
        self.inputs = tuple(t.numpy() for t in host_in)
        self.outputs = tuple(t.numpy() for t in host_out)
        self._dev_in, dev_in = _packed(in_shapes, device=dev)
        for view, example in zip(dev_in, example_inputs(spec, bucket)):
            view.copy_(torch.from_numpy(example))
        self._dev_out, dev_out = _packed(out_shapes, device=dev)
        self.stream = torch.cuda.Stream()
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream), torch.no_grad():
            for _ in range(WARMUP_RUNS):
                step(params, *dev_in)
        torch.cuda.current_stream().wait_stream(self.stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, stream=self.stream), torch.no_grad():
            for view, out in zip(dev_out, step(params, *dev_in)):
                view.copy_(out)
        torch.cuda.synchronize()

    def run(self) -> None:
        with torch.cuda.stream(self.stream):
            self._dev_in.copy_(self._host_in, non_blocking=True)
            self.graph.replay()
            self._host_out.copy_(self._dev_out, non_blocking=True)
        self.stream.synchronize()


class CudaGraphBackend:
    name = "cudagraph"
    device = "cuda"

    def __init__(self, program: AdaptProgram, precision: str = DEFAULT_GPU_PRECISION):
        check_gpu_precision(precision)
        self.program = program
        self.precision = precision
        self.params = program.params_on("cuda")
        self.detail = (f"torch {torch.__version__} CUDA graph on {torch.cuda.get_device_name()} "
                       f"[{precision}]")

    def runner(self, bucket: int) -> CudaGraphRunner:
        with matmul_precision(self.precision):
            return CudaGraphRunner(self.program, bucket, self.params, self._step(bucket))

    def _step(self, bucket: int):
        return None  # the program's own eager function


def compiled_step(program: AdaptProgram, bucket: int):
    """The traced K-step graph for ``bucket`` compiled by torch.compile (inductor)."""
    names = sorted(program.params)
    compiled = torch.compile(trace_program(program, bucket, device="cuda"), dynamic=False)

    def step(params: dict, *inputs: torch.Tensor):
        return compiled(*(params[n] for n in names), *inputs)

    return step


class InductorBackend(CudaGraphBackend):
    name = "inductor"
    # On an H100 the graph compiled for one person ran slower (1.0 ms at K = 3) than the one
    # for four (0.8 ms): one person is padded to four (BENCHMARKS.md).
    smallest_bucket = 4

    def __init__(self, program: AdaptProgram, precision: str = DEFAULT_GPU_PRECISION):
        super().__init__(program, precision)
        self.detail = (f"torch {torch.__version__} compile + CUDA graph on "
                       f"{torch.cuda.get_device_name()} [{precision}]")

    def _step(self, bucket: int):
        return compiled_step(self.program, bucket)  # compiles at its first call, in the runner
