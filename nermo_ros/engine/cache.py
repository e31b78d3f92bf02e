"""On-disk cache of compiled artefacts (ONNX graphs, TensorRT engines).

An artefact is named by a hash of everything that changes it (weights, shapes, steps, tool
versions, GPU), so a stale file is never loaded: a changed input means a new name. Files are
written to a temporary name and renamed, so a crash mid-write leaves no half file behind.

A name says what the artefact should be, not that the bytes on disk are it: a disk filling
up, a copy cut short or a hand edit can leave a broken file under a good name. So each
artefact has its sha256 beside it (``NAME.sha256``), and ``load_or_rebuild`` uses a cached
file only if its bytes match that hash and it loads; anything else is deleted, logged once
and built again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Callable, TypeVar

log = logging.getLogger(__name__)

Loaded = TypeVar("Loaded")


def default_cache_dir() -> Path:
    """``$NERMO_CACHE_DIR`` or ``~/.cache/nermo_ros/engine``."""
    env = os.environ.get("NERMO_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "nermo_ros" / "engine"


def cache_key(**parts: object) -> str:
    """A short stable hash of keyword parts (any JSON-serialisable values)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never part
    of one: write a temporary file beside it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left behind if the write or the rename failed
    return path


def hash_path(path: Path) -> Path:
    """Where the sha256 of the artefact at ``path`` is kept."""
    return path.with_name(path.name + ".sha256")


def write_artefact(path: Path, data: bytes) -> Path:
    """Write an artefact and then its content hash (an artefact without one is not trusted)."""
    atomic_write_bytes(path, data)
    atomic_write_bytes(hash_path(path), hashlib.sha256(data).hexdigest().encode())
    return path


def remove_artefact(path: Path) -> None:
    path.unlink(missing_ok=True)
    hash_path(path).unlink(missing_ok=True)


def integrity_problem(path: Path) -> str | None:
    """None if the bytes at ``path`` match their recorded hash, else what is wrong."""
    recorded = hash_path(path)
    if not recorded.is_file():
        return "it has no recorded content hash (written by an older version, or cut short)"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = recorded.read_text().strip()
    if digest != expected:
        return (f"its sha256 {digest[:12]}... differs from the recorded {expected[:12]}... "
                "(truncated or overwritten)")
    return None


def load_or_rebuild(path: Path, build: Callable[[], bytes], load: Callable[[Path], Loaded],
                    load_errors: tuple[type[BaseException], ...], what: str) -> Loaded:
    """``load(path)`` of the cached artefact, building it first if it is missing.

    A cached file whose hash does not match, or whose ``load`` raises one of ``load_errors``,
    is deleted and built again, with one warning. A freshly built file that does not load is
    a real failure: its error goes to the caller.
    """
    if path.exists():
        problem = integrity_problem(path)
        if problem is None:
            try:
                return load(path)
            except load_errors as error:
                problem = f"it does not load ({type(error).__name__}: {error})"
        log.warning("cached %s %s is unusable: %s; deleting it and building it again",
                    what, path, problem)
        remove_artefact(path)
    write_artefact(path, build())
    return load(path)
