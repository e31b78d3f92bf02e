"""Eager PyTorch: the reference every other backend is checked against."""

from __future__ import annotations

import torch

from nermo_ros.engine.spec import AdaptProgram


class TorchRunner:
    def __init__(self, program: AdaptProgram, bucket: int, device: str):
        spec = program.spec
        self.program = program
        self.device = torch.device(device)
        self.params = program.params_on(self.device)
        pin = self.device.type == "cuda"
        self._host_in = [torch.zeros(s, pin_memory=pin) for s in spec.input_shapes(bucket)]
        self._host_out = [torch.zeros(s, pin_memory=pin) for s in spec.output_shapes(bucket)]
        self.inputs = tuple(t.numpy() for t in self._host_in)
        self.outputs = tuple(t.numpy() for t in self._host_out)

    def run(self) -> None:
        args = [t.to(self.device, non_blocking=True) for t in self._host_in]
        with torch.no_grad():  # torch.func.grad inside still differentiates
            results = self.program.call(self.params, *args)
        for host, value in zip(self._host_out, results):
            host.copy_(value.detach(), non_blocking=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


class TorchBackend:
    name = "torch"

    def __init__(self, program: AdaptProgram, device: str = "cpu"):
        self.program = program
        self.device = device
        self.detail = f"eager on {device}"

    def runner(self, bucket: int) -> TorchRunner:
        return TorchRunner(self.program, bucket, self.device)
