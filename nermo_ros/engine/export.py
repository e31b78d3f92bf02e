"""Adapt-and-predict as one static graph: make_fx of torch.func.grad, then ONNX.

``make_fx`` runs the function once with real tensors and records every aten op, including
the ones torch.func.grad produces for the K unrolled gradient steps. The result is a plain
graph with the gradients as ordinary operations, which ``torch.onnx.export(dynamo=True)``
turns into standard ONNX operators. Shapes are static: one graph per batch bucket (symbolic
tracing specialises the batch size inside torch.func.grad anyway).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.fx.experimental.proxy_tensor import make_fx

from nermo_ros.engine.cache import Loaded, cache_key, default_cache_dir, load_or_rebuild
from nermo_ros.engine.spec import INPUT_NAMES, OUTPUT_NAMES, AdaptProgram, example_inputs

EXPORT_FORMAT = 2  # bump when the exported graph's inputs, outputs, semantics or ops change
ONNX_OPSET = 18


def trace_program(program: AdaptProgram, batch: int, device: str = "cpu") -> torch.fx.GraphModule:
    """The K-step adapt-and-predict as an aten graph taking (params..., inputs...).

    The eager function runs once first: lazily built pieces (module templates, caches)
    must exist before tracing, or their construction would be recorded into the graph.
    """
    names = sorted(program.params)
    params = program.params_on(device)
    inputs = [torch.from_numpy(a).to(device) for a in example_inputs(program.spec, batch)]

    def flat(*args: torch.Tensor):
        bound = dict(zip(names, args[: len(names)]))
        return tuple(program.call(bound, *args[len(names):]))

    flat(*(params[n] for n in names), *inputs)
    return make_fx(flat, tracing_mode="real")(*(params[n] for n in names), *inputs)


class TracedStep(nn.Module):
    """A traced graph with its weights as buffers: inputs in, (pred, z, recon) out."""

    def __init__(self, program: AdaptProgram, graph: torch.fx.GraphModule, device: str = "cpu"):
        super().__init__()
        self.graph = graph
        self.names = sorted(program.params)
        params = program.params_on(device)
        for i, name in enumerate(self.names):
            self.register_buffer(f"w{i}", params[name])

    def forward(self, obs_t, obs_x, obs_mask, z_init, query_t):
        weights = [getattr(self, f"w{i}") for i in range(len(self.names))]
        return self.graph(*weights, obs_t, obs_x, obs_mask, z_init, query_t)


def export_onnx_bytes(program: AdaptProgram, batch: int) -> bytes:
    """Serialized ONNX model of the adapt-and-predict step for ``batch`` people."""
    module = TracedStep(program, trace_program(program, batch)).eval()
    args = tuple(torch.from_numpy(a) for a in example_inputs(program.spec, batch))
    with _quiet():
        onnx_program = torch.onnx.export(
            module, args, dynamo=True, opset_version=ONNX_OPSET, input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES), optimize=True, verbose=False,
        )
    model = onnx_program.model_proto
    meta = {"model_hash": program.model_hash, "batch": str(batch),
            "spec": json.dumps(program.spec.shapes()), "export_format": str(EXPORT_FORMAT)}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"nermo_{key}", value
    return model.SerializeToString()


@contextlib.contextmanager
def _quiet():
    """The exporter narrates every stage on stdout and warns about unrelated torchvision ops."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript", "torch._export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def onnx_cache_path(program: AdaptProgram, batch: int, cache_dir: Path | None = None) -> Path:
    spec = program.spec
    key = cache_key(model=program.model_hash, batch=batch, spec=spec.shapes(),
                    fmt=EXPORT_FORMAT, torch=torch.__version__, opset=ONNX_OPSET)
    return (cache_dir or default_cache_dir()) / "onnx" / f"nermo_b{batch}_k{spec.steps}_{key}.onnx"


def cached_onnx(program: AdaptProgram, batch: int, cache_dir: Path | None,
                load: Callable[[Path], Loaded],
                load_errors: tuple[type[BaseException], ...]) -> Loaded:
    """``load(path)`` of the cached ONNX graph for this program and batch: exported if
    missing, exported again if the cached file fails its content hash or ``load``."""
    return load_or_rebuild(onnx_cache_path(program, batch, cache_dir),
                           lambda: export_onnx_bytes(program, batch), load, load_errors,
                           f"ONNX graph (batch {batch})")


def ensure_onnx(program: AdaptProgram, batch: int, cache_dir: Path | None = None) -> Path:
    """Path of the cached ONNX graph for this program and batch, checked to parse."""
    return cached_onnx(program, batch, cache_dir, parse_onnx, onnx_parse_errors())


def parse_onnx(path: Path) -> Path:
    """``path``, once it has parsed as an ONNX model (else one of ``onnx_parse_errors``)."""
    import onnx

    onnx.load(str(path), load_external_data=False)
    return path


def onnx_parse_errors() -> tuple[type[BaseException], ...]:
    from google.protobuf.message import DecodeError

    return (DecodeError,)
