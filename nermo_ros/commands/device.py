"""The `--device` of the commands that run torch: checked at start, so that a request this
machine cannot honour stops with a message instead of a traceback mid-run."""

from __future__ import annotations

import re


def resolve_device(requested: str, command: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cpu``, ``cuda`` and
    ``cuda:N`` as given when this machine has them; anything else refused."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cpu":
        return requested
    match = re.fullmatch(r"cuda(?::(\d+))?", requested)
    if match is None:
        raise SystemExit(f"nermo-ros {command}: --device {requested!r}: use cpu, cuda, cuda:N "
                         "or auto")
    if not torch.cuda.is_available():
        raise SystemExit(f"nermo-ros {command}: --device {requested}: torch {torch.__version__} "
                         "sees no CUDA device here (a CPU build, or no GPU); use --device cpu")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise SystemExit(f"nermo-ros {command}: --device {requested}: this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    return requested
