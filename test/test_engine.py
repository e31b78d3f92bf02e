"""The compiled adapt-and-predict engine: every backend against eager PyTorch, buckets, cache,
backend choice. A tiny real NeRMo model (random weights) keeps each export to seconds."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from nermo_ros.engine import BACKENDS, BackendUnavailable, choose, engine_for_program
from nermo_ros.engine.export import ensure_onnx, export_onnx_bytes, onnx_cache_path
from nermo_ros.engine.onnx_passes import single_output_layer_norms
from nermo_ros.engine.parity import PARITY_ATOL, REDUCED_PRECISION_ATOL, parity_errors
from nermo_ros.engine.program import nermo_program
from nermo_ros.engine.select import gpu_available, missing
from nermo_ros.engine.spec import INPUT_NAMES, example_inputs
from nermo_ros.meta import init_params
from nermo_ros.model import ModelConfig

TINY = ModelConfig(width=16, modulation_dim=8, codebook_size=4, num_blocks=1, num_heads=2,
                   fourier_levels=2)


def tiny_params(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights; the zero-initialised head is perturbed so that z matters."""
    gen = torch.Generator().manual_seed(seed)
    params = init_params(TINY, seed=seed)
    return {k: v + 0.05 * torch.randn(v.shape, generator=gen) for k, v in params.items()}


@pytest.fixture(scope="module")
def program():
    return nermo_program(tiny_params(), TINY, steps=2, window_frames=6, num_queries=3, buckets=(1, 4))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("engine_cache")


@pytest.fixture(scope="module")
def reference(program):
    return engine_for_program(program, "torch", "cpu")


def _available(backend: str, device: str) -> None:
    problem = missing(backend, device)
    if problem:
        pytest.skip(problem)


def test_exported_graph_holds_only_standard_onnx_operators_and_matches_eager(program):
    model = onnx.load_from_string(export_onnx_bytes(program, batch=1))
    onnx.checker.check_model(model)
    assert {node.domain for node in model.graph.node} <= {"", "ai.onnx"}
    assert {"Sin", "Cos", "Softmax"} <= {node.op_type for node in model.graph.node}
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = example_inputs(program.spec, 1, seed=7)
    got = session.run(None, dict(zip(INPUT_NAMES, inputs)))
    params = program.params_on("cpu")
    expected = program.call(params, *(torch.from_numpy(a) for a in inputs))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e.detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("change", [{"adapt_frame_stride": 3}, {"mirror_average": True},
                                    {"velocity_fit": "quadratic"},
                                    {"velocity_blend": 0.3, "velocity_blend_time_s": 0.2}],
                         ids=["strided", "mirror_average", "quadratic_velocity", "velocity_blend"])
def test_an_adaptation_variant_exports_and_matches_eager(change):
    """The shipped model fits every 3rd frame, the node may mirror-average (the batch doubled
    and the joints permuted inside the graph), a prior may fit parabolas (Cramer's rule
    with a fallback) and the protocol model mixes in the constant-velocity line: each must
    survive the export."""
    variant = nermo_program(tiny_params(), dataclasses.replace(TINY, **change), steps=2,
                            window_frames=7, num_queries=3, buckets=(2,))
    session = ort.InferenceSession(export_onnx_bytes(variant, batch=2), providers=["CPUExecutionProvider"])
    inputs = example_inputs(variant.spec, 2, seed=9)
    got = session.run(None, dict(zip(INPUT_NAMES, inputs)))
    expected = variant.call(variant.params_on("cpu"), *(torch.from_numpy(a) for a in inputs))
    assert [g.shape for g in got] == [tuple(e.shape) for e in expected]
    # Cramer's rule cancels a few float32 digits: within the node's own parity bound, not 1e-5.
    atol = PARITY_ATOL["onnxruntime"] if "velocity_fit" in change else 1e-5
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e.detach().numpy(), atol=atol)


def _multi_output_layer_norms(model_bytes: bytes) -> int:
    graph = onnx.load_from_string(model_bytes).graph
    return sum(1 for n in graph.node if n.op_type == "LayerNormalization" and any(n.output[1:]))


def test_the_tensorrt_graph_has_single_output_layer_norms_and_the_same_results(program):
    """TensorRT's parser takes a LayerNormalization with one output only; the rewritten graph
    must compute exactly what the exported one does (checked with ONNX Runtime)."""
    exported = export_onnx_bytes(program, batch=1)
    rewritten = single_output_layer_norms(exported)
    assert _multi_output_layer_norms(exported) > 0 and _multi_output_layer_norms(rewritten) == 0
    inputs = dict(zip(INPUT_NAMES, example_inputs(program.spec, 1, seed=5)))
    runs = [ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, inputs)
            for m in (exported, rewritten)]
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("backend,device", [(b, d) for b in BACKENDS for d in ("cpu", "cuda")
                                            if not (b in ("cudagraph", "inductor", "tensorrt") and d == "cpu")])
def test_every_available_backend_matches_eager_pytorch(program, reference, cache_dir, backend, device):
    _available(backend, device)
    engine = engine_for_program(program, backend, device, cache_dir=cache_dir, gpu_precision="fp32")
    for batch in (1, 3):
        errors = parity_errors(engine, reference, batch)
        assert max(errors.values()) <= PARITY_ATOL[backend], (backend, device, batch, errors)


@pytest.mark.parametrize("backend", ["cudagraph", "inductor"])
def test_tf32_graphs_stay_within_the_reduced_precision_bound(program, reference, backend):
    _available(backend, "cuda")
    engine = engine_for_program(program, backend, "cuda", gpu_precision="tf32")
    assert "[tf32]" in engine.describe()
    for batch in (1, 3):
        errors = parity_errors(engine, reference, batch)
        assert max(errors.values()) <= REDUCED_PRECISION_ATOL, (backend, batch, errors)


def test_an_unknown_gpu_precision_is_refused_naming_the_choices(program):
    with pytest.raises(ValueError, match="gpu_precision must be one of tf32, fp32, got 'fp16'"):
        engine_for_program(program, "torch", "cpu", gpu_precision="fp16")


def test_a_padded_bucket_gives_each_person_what_they_get_alone(reference):
    inputs = example_inputs(reference.spec, 3, seed=11)
    together = [a.copy() for a in reference(*inputs)]  # bucket of 4, one padding person
    for person in range(3):
        alone = reference(*(a[person:person + 1] for a in inputs))  # bucket of 1
        for t, a in zip(together, alone):
            np.testing.assert_allclose(t[person:person + 1], a, atol=1e-5)


def test_more_people_than_the_largest_bucket_run_in_slices(reference):
    inputs = example_inputs(reference.spec, 6, seed=12)
    pred, z, recon = (a.copy() for a in reference(*inputs))
    assert pred.shape == (6, 3, TINY.num_joints, 3) and z.shape == (6, TINY.modulation_dim)
    tail = reference(*(a[4:] for a in inputs))
    np.testing.assert_allclose(pred[4:], tail[0], atol=1e-5)


def test_adaptation_steps_reduce_the_reconstruction_error():
    params = tiny_params()
    inputs = example_inputs(nermo_program(params, TINY, 0, 6, 3, (2,)).spec, 2, seed=4)
    errors = []
    for steps in (0, 3):
        engine = engine_for_program(nermo_program(params, TINY, steps, 6, 3, (2,)), "torch", "cpu")
        _, _, recon = engine(*inputs)
        errors.append(float(np.abs(recon - inputs[1])[inputs[2] > 0].mean()))
    assert errors[1] < errors[0]


def test_results_stay_valid_after_the_next_call(reference):
    first = example_inputs(reference.spec, 2, seed=21)
    _, z_first, _ = reference(*first)
    kept = z_first.copy()
    reference(*example_inputs(reference.spec, 2, seed=22))
    np.testing.assert_array_equal(z_first, kept)


def test_a_wrong_window_length_is_refused_naming_the_expected_shape(reference):
    inputs = list(example_inputs(reference.spec, 1))
    inputs[0] = inputs[0][:, :5]
    with pytest.raises(ValueError, match=r"obs_t has shape \(1, 5\).*\(1, 6\)"):
        reference(*inputs)


def test_the_onnx_export_is_cached_and_a_new_step_count_or_mirror_gets_its_own_file(program, cache_dir):
    path = ensure_onnx(program, 1, cache_dir)
    stamp = path.stat().st_mtime_ns
    assert ensure_onnx(program, 1, cache_dir).stat().st_mtime_ns == stamp
    three_steps = nermo_program(program.params, TINY, 3, 6, 3, (1, 4))
    assert onnx_cache_path(three_steps, 1, cache_dir) != path
    other_buckets = nermo_program(program.params, TINY, 2, 6, 3, (1, 2, 8))
    assert onnx_cache_path(other_buckets, 1, cache_dir) == path  # the bucket set is not the graph
    mirrored = nermo_program(program.params, dataclasses.replace(TINY, mirror_average=True),
                             2, 6, 3, (1, 4))
    assert onnx_cache_path(mirrored, 1, cache_dir) != path  # another graph, same weights
    quadratic = nermo_program(program.params, dataclasses.replace(TINY, velocity_fit="quadratic"),
                              2, 6, 3, (1, 4))
    assert onnx_cache_path(quadratic, 1, cache_dir) != path


@pytest.mark.skipif(gpu_available(), reason="checks the behaviour on a machine without a GPU")
def test_a_gpu_backend_without_a_gpu_fails_at_start_naming_what_is_missing():
    with pytest.raises(BackendUnavailable, match="cudagraph.*needs a CUDA GPU"):
        choose("cudagraph")


@pytest.mark.skipif(gpu_available(), reason="checks the behaviour on a machine without a GPU")
def test_the_node_falls_back_from_gpu_to_cpu_saying_why():
    choice = choose("cudagraph", fallback_to_cpu=True)
    assert (choice.backend, choice.device) == ("onnxruntime", "cpu")
    assert "needs a CUDA GPU" in choice.fallback_reason
    assert "falling back to 'onnxruntime'" in choice.fallback_reason


def test_tensorrt_when_absent_is_reported_as_not_installed():
    if missing("tensorrt", "cuda") is None:
        pytest.skip("tensorrt is installed here")
    assert "tensorrt" in missing("tensorrt", "cuda").lower()


def test_auto_picks_the_fastest_backend_that_can_run_here():
    choice = choose("auto")
    expected = ("tensorrt", "cudagraph") if gpu_available() else ("onnxruntime",)
    assert choice.backend in expected and choice.fallback_reason == ""


def test_an_unknown_backend_name_is_a_value_error_listing_the_known_ones():
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'; choose one of auto, torch"):
        choose("tensorflow")
    with pytest.raises(ValueError, match="unknown backend 'tensorrtx'.*tensorrt"):
        choose("tensorrtx", fallback_to_cpu=True)


def test_an_unknown_device_is_a_value_error_listing_the_devices():
    with pytest.raises(ValueError, match="unknown device 'gpu'; choose one of auto, cpu, cuda"):
        choose("torch", device="gpu")
