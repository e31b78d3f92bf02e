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

import torch

from nermo_ros.engine.export import trace_program
from nermo_ros.engine.spec import AdaptProgram, example_inputs

WARMUP_RUNS = 3  # on a side stream before capture, as torch.cuda.graphs requires


class CudaGraphRunner:
    def __init__(self, program: AdaptProgram, bucket: int, params: dict, step=None):
        """``step(params, *inputs)`` defaults to the program's own (eager) function."""
        step = step or program.call
        spec = program.spec
        dev = torch.device("cuda")
        self._host_in = [torch.zeros(s, pin_memory=True) for s in spec.input_shapes(bucket)]
        self._host_out = [torch.zeros(s, pin_memory=True) for s in spec.output_shapes(bucket)]
        self.inputs = tuple(t.numpy() for t in self._host_in)
        self.outputs = tuple(t.numpy() for t in self._host_out)
        self._dev_in = [torch.from_numpy(a).to(dev) for a in example_inputs(spec, bucket)]
        self.stream = torch.cuda.Stream()
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream), torch.no_grad():
            for _ in range(WARMUP_RUNS):
                step(params, *self._dev_in)
        torch.cuda.current_stream().wait_stream(self.stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, stream=self.stream), torch.no_grad():
            self._dev_out = list(step(params, *self._dev_in))
        torch.cuda.synchronize()

    def run(self) -> None:
        with torch.cuda.stream(self.stream):
            for dev, host in zip(self._dev_in, self._host_in):
                dev.copy_(host, non_blocking=True)
            self.graph.replay()
            for host, dev in zip(self._host_out, self._dev_out):
                host.copy_(dev, non_blocking=True)
        self.stream.synchronize()


class CudaGraphBackend:
    name = "cudagraph"
    device = "cuda"

    def __init__(self, program: AdaptProgram):
        self.program = program
        self.params = program.params_on("cuda")
        self.detail = f"torch {torch.__version__} CUDA graph on {torch.cuda.get_device_name()}"

    def runner(self, bucket: int) -> CudaGraphRunner:
        return CudaGraphRunner(self.program, bucket, self.params)


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

    def __init__(self, program: AdaptProgram):
        super().__init__(program)
        self.detail = (f"torch {torch.__version__} compile + CUDA graph on "
                       f"{torch.cuda.get_device_name()}")

    def runner(self, bucket: int) -> CudaGraphRunner:
        step = compiled_step(self.program, bucket)
        return CudaGraphRunner(self.program, bucket, self.params, step)
