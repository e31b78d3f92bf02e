"""The NeRMo predictor settles its engine when it is constructed: a typo, a negative step
count or a backend that cannot run is refused then, and the only fallbacks are the declared
ones, each with its reason."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from nermo_ros.checkpoint import save_checkpoint
from nermo_ros.engine import BackendUnavailable
from nermo_ros.engine.cache import integrity_problem
from nermo_ros.engine.select import gpu_available
from nermo_ros.meta import init_params
from nermo_ros.model import ModelConfig
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.predictors.baselines import ConstantVelocityPredictor, ZeroVelocityPredictor
from nermo_ros.predictors.factory import make_predictor_from_params
from nermo_ros.predictors.nermo import NermoPredictor
from nermo_ros.skeleton import LAYOUT_ID, NUM_JOINTS

TINY = ModelConfig(width=16, modulation_dim=8, codebook_size=4, num_blocks=1, num_heads=2,
                   fourier_levels=2)
HORIZONS_S = (0.2, 0.6, 1.0)
NO_GPU = pytest.mark.skipif(gpu_available(), reason="checks the behaviour without a GPU")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    gen = torch.Generator().manual_seed(0)
    params = {k: v + 0.05 * torch.randn(v.shape, generator=gen)
              for k, v in init_params(TINY).items()}
    error = np.outer(HORIZONS_S, np.ones(NUM_JOINTS)) * 0.1
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, kind="nermo", layout=LAYOUT_ID, num_joints=NUM_JOINTS, params=params,
                    train_config={"window": {"obs_frames": 6}}, model_config=TINY,
                    default_steps=2, obs_window_s=0.4,
                    validation={"horizons_s": list(HORIZONS_S), "mpjpe_joint_m": error.tolist()})
    return path


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the tests that build the same one-bucket graph (an export takes seconds)."""
    return tmp_path_factory.mktemp("engine_cache")


def _node_params(checkpoint, **changes):
    """The predictor node's parameters (config/predictor.yaml) that reach the predictor."""
    params = {"predictor": "nermo", "checkpoint": str(checkpoint), "backend": "auto",
              "gpu_precision": "tf32", "num_adapt_steps": 1, "window_frames": 30,
              "horizons_s": list(HORIZONS_S)}
    return {**params, **changes}


def _window():
    times = np.tile(np.linspace(-0.4, 0.0, 6), (1, 1))
    positions = np.random.default_rng(3).normal(size=(1, 1, NUM_JOINTS, 3)) + times[..., None, None]
    return WindowBatch(times, positions, np.ones((1, 6, NUM_JOINTS), bool), np.ones((1, 6), bool),
                       ["a"])


def test_a_misspelt_backend_is_refused_at_construction_listing_the_backends(checkpoint):
    with pytest.raises(ValueError, match="unknown backend 'tensorrtx'; choose one of auto, torch, "
                                         "cudagraph, inductor, onnxruntime, tensorrt"):
        make_predictor_from_params(_node_params(checkpoint, backend="tensorrtx"))


def test_negative_adaptation_steps_are_refused_at_construction(checkpoint):
    with pytest.raises(ValueError, match="num_adapt_steps must be a whole number >= 0.*got -1"):
        make_predictor_from_params(_node_params(checkpoint, num_adapt_steps=-1))


def test_the_node_steps_are_used_as_given_not_the_checkpoint_default(checkpoint):
    predictor = make_predictor_from_params(_node_params(checkpoint, backend="torch",
                                                        num_adapt_steps=0))
    assert predictor.steps == 0 and "K=0" in predictor.backend_description


def test_the_node_mirror_average_choice_reaches_the_graph_the_engine_builds(checkpoint):
    plain = make_predictor_from_params(_node_params(checkpoint, backend="torch"))  # the default
    mirrored = make_predictor_from_params(_node_params(checkpoint, backend="torch",
                                                       mirror_average=True))
    assert not plain.config.mirror_average and "mirror" not in plain.backend_description
    assert mirrored.config.mirror_average and "mirror-averaged" in mirrored.backend_description
    assert (plain.adapt_fn(6, 3).program.model_hash
            != mirrored.adapt_fn(6, 3).program.model_hash)  # never one cached graph for both


def test_the_node_hold_settings_reach_the_predictor(checkpoint):
    default = make_predictor_from_params(_node_params(checkpoint, backend="torch"))
    assert (default.hold_time_s, default.hold_jitter_m) == (0.3, 0.025)
    off = make_predictor_from_params(_node_params(checkpoint, backend="torch", hold_time_s=0.0))
    assert (off.hold_time_s, off.hold_jitter_m) == (0.0, 0.0)
    wide = make_predictor_from_params(_node_params(checkpoint, backend="torch", hold_time_s=0.5,
                                                   hold_jitter_m=0.04))
    assert (wide.hold_time_s, wide.hold_jitter_m) == (0.5, 0.04)


def test_eager_pytorch_asked_for_by_name_is_no_fallback(checkpoint):
    predictor = NermoPredictor(checkpoint, backend="torch", horizons_s=HORIZONS_S)
    device = "cuda" if gpu_available() else "cpu"
    assert predictor.backend_description == f"torch (eager on {device}), K=2"
    assert predictor.fallback_reason == ""


@NO_GPU
def test_auto_on_this_cpu_machine_runs_onnxruntime_built_at_construction(
        checkpoint, shared_cache, monkeypatch):
    monkeypatch.setenv("NERMO_CACHE_DIR", str(shared_cache))
    predictor = NermoPredictor(checkpoint, backend="auto", num_adapt_steps=1,
                               horizons_s=HORIZONS_S, batch_buckets=(1,))
    assert list(shared_cache.glob("onnx/*.onnx")), "the graph is exported before any forecast"
    assert predictor.backend_description.startswith("onnxruntime")
    assert predictor.fallback_reason == ""


@NO_GPU
def test_a_gpu_backend_without_a_gpu_runs_on_the_cpu_naming_the_missing_gpu(
        checkpoint, shared_cache, monkeypatch):
    monkeypatch.setenv("NERMO_CACHE_DIR", str(shared_cache))
    predictor = NermoPredictor(checkpoint, backend="cudagraph", num_adapt_steps=1,
                               horizons_s=HORIZONS_S, batch_buckets=(1,))
    assert predictor.backend_description.startswith("onnxruntime")
    assert "'cudagraph' on cuda needs a CUDA GPU" in predictor.fallback_reason
    assert "falling back to 'onnxruntime' on the CPU" in predictor.fallback_reason


@NO_GPU
def test_a_gpu_backend_without_a_gpu_and_no_fallback_is_refused_at_construction(checkpoint):
    with pytest.raises(BackendUnavailable, match="'cudagraph' on cuda needs a CUDA GPU"):
        NermoPredictor(checkpoint, backend="cudagraph", fallback_to_cpu=False)


@NO_GPU
def test_a_truncated_cached_graph_is_rebuilt_and_the_predictor_still_runs_onnxruntime(
        checkpoint, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NERMO_CACHE_DIR", str(tmp_path))
    settings = dict(backend="onnxruntime", num_adapt_steps=1, horizons_s=HORIZONS_S,
                    batch_buckets=(1,))
    first = NermoPredictor(checkpoint, **settings)
    (graph,) = tmp_path.glob("onnx/*.onnx")
    expected = first.predict(_window(), np.asarray(HORIZONS_S)).positions
    graph.write_bytes(graph.read_bytes()[:1000])  # a copy or a disk write cut short
    with caplog.at_level(logging.WARNING):
        second = NermoPredictor(checkpoint, **settings)
    (warning,) = [r.getMessage() for r in caplog.records if "building it again" in r.getMessage()]
    assert str(graph) in warning and "truncated" in warning
    assert integrity_problem(graph) is None
    assert second.backend_description.startswith("onnxruntime") and second.fallback_reason == ""
    got = second.predict(_window(), np.asarray(HORIZONS_S)).positions
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_the_baselines_describe_themselves_and_never_fall_back():
    for predictor in (ZeroVelocityPredictor(), ConstantVelocityPredictor()):
        assert predictor.backend_description == predictor.name
        assert predictor.fallback_reason == ""
