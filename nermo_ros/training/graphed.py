"""CUDA-graphed training steps (``nermo-ros train --cuda-graphs``).

An eager meta-training step launches thousands of small kernels from Python (the K unrolled
inner steps and their second-order backward), and the GPU waits on the launches. Here each
inner-step count's whole step (loss, backward, gradient clipping, the AdamW update) is
captured once and then replayed with one call: one run on an H200 makes 1.7x the steps a
minute (BENCHMARKS.md, "Training speed"); runs sharing a GPU filled those gaps already, so
there it gains a few per cent. The arithmetic is the eager step's; only dropout draws other
random numbers.

Capture needs fixed addresses: every batch is copied into buffers owned here, the optimizer
must be capturable with its learning rate a device tensor (``make_optimizer``), and its state
must exist before the first capture (the first step runs eagerly and creates it). All graphs
share one memory pool, so they add only the largest step's memory; that is safe because a
step reads nothing another graph wrote except the weights and the optimizer's state, which
live outside the pool.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Callable

import torch
from torch import Tensor

from nermo_ros.training.windows import Batch

WARMUP_RUNS = 2  # forward and backward on a side stream before a capture, as CUDA graphs need

LossFn = Callable[[Batch, int], Tensor]


def make_optimizer(trainable: list[Tensor], lr: float, weight_decay: float,
                   cuda_graphs: bool) -> torch.optim.AdamW:
    """AdamW; for CUDA graphs capturable, with the learning rate as a device tensor so that a
    replayed step reads the current one."""
    if not cuda_graphs:
        return torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    device = trainable[0].device
    return torch.optim.AdamW(trainable, lr=torch.tensor(lr, device=device),
                             weight_decay=weight_decay, capturable=True)


def match_optimizer(opt: torch.optim.Optimizer, cuda_graphs: bool) -> None:
    """After ``load_state_dict``: the loaded run may have trained the other way (the saved
    groups bring their own learning-rate type, capturable flag and step counters' device)."""
    for group in opt.param_groups:
        group["capturable"] = cuda_graphs
        lr = float(group["lr"])
        group["lr"] = torch.tensor(lr, device=group["params"][0].device) if cuda_graphs else lr
        for p in group["params"]:
            state = opt.state.get(p)
            if state and "step" in state:
                state["step"] = state["step"].to(p.device if cuda_graphs else "cpu",
                                                  torch.float32)


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """The learning rate for the next step; in place where graphs read it from a tensor."""
    for group in opt.param_groups:
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def eager_step(loss_fn: LossFn, batch: Batch, inner_steps: int, trainable: list[Tensor],
               opt: torch.optim.Optimizer, grad_clip: float,
               reduce_grads: Callable[[], None] | None = None) -> tuple[Tensor, Tensor]:
    """One optimizer step; (loss, gradient norm) as device tensors. ``reduce_grads`` averages
    the gradients over processes (data-parallel) before they are clipped."""
    loss = loss_fn(batch, inner_steps)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if reduce_grads is not None:
        reduce_grads()
    grad_norm = torch.nn.utils.clip_grad_norm_(trainable, grad_clip)
    opt.step()
    return loss.detach(), grad_norm


class GraphedSteps:
    """Training steps replayed from one CUDA graph per inner-step count."""

    def __init__(self, loss_fn: LossFn, trainable: list[Tensor], opt: torch.optim.Optimizer,
                 grad_clip: float):
        if not trainable or trainable[0].device.type != "cuda":
            raise ValueError("CUDA graphs need the weights on a CUDA device (--device cuda)")
        if not all(group.get("capturable") for group in opt.param_groups):
            raise ValueError("CUDA graphs need a capturable optimizer (make_optimizer)")
        self.loss_fn, self.trainable, self.opt, self.grad_clip = loss_fn, trainable, opt, grad_clip
        self.static: Batch | None = None
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, Tensor, Tensor]] = {}
        self.pool = None
        self.stream = torch.cuda.Stream(device=trainable[0].device)

    def step(self, batch: Batch, inner_steps: int) -> tuple[Tensor, Tensor]:
        """One optimizer step on ``batch``; (loss, gradient norm) as device tensors, valid until
        the next call."""
        if self.static is None:
            self.static = _clone(batch)
        else:
            _copy_into(self.static, batch)
        if not self.opt.state:  # no optimizer state yet: create it with one eager step
            return eager_step(self.loss_fn, self.static, inner_steps, self.trainable, self.opt,
                              self.grad_clip)
        if inner_steps not in self.graphs:
            self.graphs[inner_steps] = self._capture(inner_steps)
        graph, loss, grad_norm = self.graphs[inner_steps]
        graph.replay()
        return loss, grad_norm

    def _capture(self, inner_steps: int) -> tuple[torch.cuda.CUDAGraph, Tensor, Tensor]:
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            for _ in range(WARMUP_RUNS):  # gradients only: the weights must not move
                self.opt.zero_grad(set_to_none=True)
                self.loss_fn(self.static, inner_steps).backward()
                torch.nn.utils.clip_grad_norm_(self.trainable, self.grad_clip)
        torch.cuda.current_stream().wait_stream(self.stream)
        self.opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool, stream=self.stream):
            loss, grad_norm = eager_step(self.loss_fn, self.static, inner_steps, self.trainable,
                                         self.opt, self.grad_clip)
        self.pool = graph.pool()
        return graph, loss, grad_norm


def _clone(batch: Batch) -> Batch:
    return replace(batch, **{f.name: getattr(batch, f.name).clone()
                             for f in fields(batch) if getattr(batch, f.name) is not None})


def _copy_into(static: Batch, batch: Batch) -> None:
    for f in fields(batch):
        ours, theirs = getattr(static, f.name), getattr(batch, f.name)
        if (ours is None) != (theirs is None) or (ours is not None and ours.shape != theirs.shape):
            raise ValueError(f"batch field {f.name} changed shape or presence between steps; "
                             "a captured step needs every batch alike")
        if ours is not None:
            ours.copy_(theirs)
