"""On-disk cache of compiled artefacts (ONNX graphs, TensorRT engines).

An artefact is named by a hash of everything that changes it (weights, shapes, steps, tool
versions, GPU), so a stale file is never loaded: a changed input means a new name. Files are
written to a temporary name and renamed, so a crash mid-write leaves no half file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$NERMO_CACHE_DIR`` or ``~/.cache/nermo_ros/engine``."""
    env = os.environ.get("NERMO_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "nermo_ros" / "engine"


def cache_key(**parts: object) -> str:
    """A short stable hash of keyword parts (any JSON-serialisable values)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
