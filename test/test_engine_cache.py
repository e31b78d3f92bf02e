"""The compiled-artefact cache trusts a file only if its bytes match their recorded hash and
it loads; anything else is deleted, logged once and built again."""

from __future__ import annotations

import logging

import onnx
import pytest
import torch

from nermo_ros.engine import engine_for_program
from nermo_ros.engine.cache import (atomic_write_bytes, hash_path, integrity_problem,
                                    load_or_rebuild, write_artefact)
from nermo_ros.engine.export import onnx_cache_path
from nermo_ros.engine.program import nermo_program
from nermo_ros.meta import init_params
from nermo_ros.model import ModelConfig

TINY = ModelConfig(width=16, modulation_dim=8, codebook_size=4, num_blocks=1, num_heads=2,
                   fourier_levels=2)


class Builds:
    """A build function that counts its calls and returns ``content``."""

    def __init__(self, content: bytes):
        self.content = content
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return self.content


def _load_text(path):
    text = path.read_bytes().decode()
    if not text.startswith("graph:"):
        raise ValueError(f"{path} holds no graph")
    return text


def _rebuild_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "building it again" in r.getMessage()]


def test_a_missing_artefact_is_built_once_and_then_loaded_from_the_cache(tmp_path, caplog):
    build = Builds(b"graph: one")
    path = tmp_path / "a.bin"
    with caplog.at_level(logging.WARNING):
        first = load_or_rebuild(path, build, _load_text, (ValueError,), "test graph")
        second = load_or_rebuild(path, build, _load_text, (ValueError,), "test graph")
    assert first == second == "graph: one" and build.calls == 1
    assert integrity_problem(path) is None
    assert _rebuild_warnings(caplog) == []  # building a missing file is no news


def test_a_truncated_artefact_fails_its_hash_and_is_rebuilt_with_one_warning(tmp_path, caplog):
    build = Builds(b"graph: a long graph")
    path = tmp_path / "a.bin"
    write_artefact(path, build.content)
    path.write_bytes(build.content[:9])  # cut short after its hash was recorded
    assert "differs from the recorded" in integrity_problem(path)
    with caplog.at_level(logging.WARNING):
        rebuilt = load_or_rebuild(path, build, _load_text, (ValueError,), "test graph")
        load_or_rebuild(path, build, _load_text, (ValueError,), "test graph")
    assert rebuilt == "graph: a long graph"
    assert build.calls == 1
    (warning,) = _rebuild_warnings(caplog)
    assert str(path) in warning and "truncated" in warning


def test_an_artefact_without_a_recorded_hash_is_not_trusted(tmp_path, caplog):
    path = tmp_path / "a.bin"
    atomic_write_bytes(path, b"graph: old")  # as an older version wrote it: no hash beside it
    with caplog.at_level(logging.WARNING):
        loaded = load_or_rebuild(path, Builds(b"graph: new"), _load_text, (ValueError,), "g")
    assert loaded == "graph: new"
    (warning,) = _rebuild_warnings(caplog)
    assert "no recorded content hash" in warning
    assert hash_path(path).is_file()


def test_an_artefact_that_matches_its_hash_but_does_not_load_is_rebuilt(tmp_path, caplog):
    path = tmp_path / "a.bin"
    write_artefact(path, b"not a graph")
    with caplog.at_level(logging.WARNING):
        loaded = load_or_rebuild(path, Builds(b"graph: good"), _load_text, (ValueError,), "g")
    assert loaded == "graph: good"
    (warning,) = _rebuild_warnings(caplog)
    assert "does not load (ValueError" in warning


def test_a_freshly_built_artefact_that_does_not_load_raises_to_the_caller(tmp_path):
    with pytest.raises(ValueError, match="holds no graph"):
        load_or_rebuild(tmp_path / "a.bin", Builds(b"no graph"), _load_text, (ValueError,), "g")


def test_an_atomic_write_leaves_only_the_file_behind(tmp_path):
    atomic_write_bytes(tmp_path / "sub" / "a.bin", b"data")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.bin"]


@pytest.mark.slow
def test_a_cached_onnx_file_that_onnxruntime_refuses_is_exported_again(tmp_path, caplog):
    gen = torch.Generator().manual_seed(0)
    params = {k: v + 0.05 * torch.randn(v.shape, generator=gen)
              for k, v in init_params(TINY).items()}
    program = nermo_program(params, TINY, steps=1, window_frames=6, num_queries=3, buckets=(1,))
    path = onnx_cache_path(program, 1, tmp_path)
    write_artefact(path, b"\x08\x07garbage with a valid hash")
    with caplog.at_level(logging.WARNING):
        engine = engine_for_program(program, "onnxruntime", "cpu", cache_dir=tmp_path)
    (warning,) = _rebuild_warnings(caplog)
    assert "does not load (InvalidProtobuf" in warning
    assert engine.name == "onnxruntime" and engine.fallback_reason == ""
    onnx.checker.check_model(onnx.load(str(path)))
    assert integrity_problem(path) is None
