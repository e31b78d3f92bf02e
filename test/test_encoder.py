"""NeRMo with the history encoder: the guess sees only what was observed, the window length is
checked, the graph exports and runs on ONNX Runtime like eager, and the node's engine can be
compiled ahead of its first start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nermo_ros.checkpoint import save_checkpoint
from nermo_ros.cli import main
from nermo_ros.engine import engine_for_program
from nermo_ros.engine.backends.torch_eager import TorchBackend
from nermo_ros.engine.engine import Engine
from nermo_ros.engine.parity import PARITY_ATOL, parity_errors
from nermo_ros.engine.program import nermo_program
from nermo_ros.meta import adapt_and_predict, encoded_guess, init_params
from nermo_ros.model import ModelConfig
from nermo_ros.skeleton import LAYOUT_ID, NUM_JOINTS

T = 6
ENCODED = ModelConfig(width=16, modulation_dim=8, codebook_size=4, num_blocks=1, num_heads=2,
                      fourier_levels=2, encoder_blocks=1, encoder_frames=T, encoder_width=16)


def encoded_params(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights with a non-zero encoder output (a fresh encoder starts at zero)."""
    gen = torch.Generator().manual_seed(seed)
    return {k: v + 0.1 * torch.randn(v.shape, generator=gen)
            for k, v in init_params(ENCODED, seed).items()}


def window(batch: int = 2, seed: int = 1):
    rng = np.random.default_rng(seed)
    t = torch.tensor(np.tile(np.linspace(-0.2, 0.0, T), (batch, 1)), dtype=torch.float32)
    x = torch.tensor(rng.normal(size=(batch, T, NUM_JOINTS, 3)), dtype=torch.float32)
    mask = torch.tensor(rng.random((batch, T, NUM_JOINTS)) > 0.3, dtype=torch.float32)
    mask[:, -1, 0] = 1.0
    query = torch.tensor(np.tile([0.1, 0.5, 1.0], (batch, 1)), dtype=torch.float32)
    return t, x, mask, query


def test_the_encoder_guess_and_the_forecast_ignore_what_was_not_observed():
    params = encoded_params()
    t, x, mask, query = window()
    hidden = mask.unsqueeze(-1) < 0.5
    garbage = torch.where(hidden, torch.full_like(x, float("nan")), x)
    other = torch.where(hidden, x + 100.0, x)
    z0 = torch.zeros(2, ENCODED.modulation_dim)
    guess = encoded_guess(params, ENCODED, t, torch.where(hidden, 0.0, x), mask)
    assert guess.abs().sum() > 0  # the encoder does contribute
    results = [adapt_and_predict(params, t, xs, mask, z0, query, steps=2, config=ENCODED)
               for xs in (x, garbage, other)]
    for pred, z, _ in results[1:]:
        assert torch.isfinite(pred).all()
        torch.testing.assert_close(pred, results[0][0])
        torch.testing.assert_close(z, results[0][1])


def test_the_returned_z_is_the_correction_to_the_guess_so_zero_steps_return_z_init():
    params = encoded_params()
    t, x, mask, query = window()
    z_init = torch.full((2, ENCODED.modulation_dim), 0.3)
    _, z, _ = adapt_and_predict(params, t, x, mask, z_init, query, steps=0, config=ENCODED)
    torch.testing.assert_close(z, z_init)


def test_a_window_of_another_length_is_refused_naming_the_trained_length():
    params = encoded_params()
    t, x, mask, query = window()
    with pytest.raises(ValueError, match=f"exactly {T} frames, got {T - 1}"):
        adapt_and_predict(params, t[:, 1:], x[:, 1:], mask[:, 1:],
                          torch.zeros(2, ENCODED.modulation_dim), query, steps=1, config=ENCODED)


def test_an_encoder_needs_its_window_length():
    with pytest.raises(ValueError, match="encoder_frames"):
        ModelConfig(encoder_blocks=1, encoder_frames=0)


@pytest.mark.slow
def test_the_encoder_model_runs_on_onnx_runtime_as_on_eager_pytorch(tmp_path):
    program = nermo_program(encoded_params(), ENCODED, steps=2, window_frames=T, num_queries=3,
                            buckets=(2,))
    reference = engine_for_program(program, "torch", "cpu")
    engine = engine_for_program(program, "onnxruntime", "cpu", cache_dir=tmp_path)
    worst = max(parity_errors(engine, reference, batch=2).values())
    assert worst <= PARITY_ATOL["onnxruntime"]


def test_a_backend_may_run_one_person_in_a_larger_bucket():
    program = nermo_program(encoded_params(), ENCODED, steps=1, window_frames=T, num_queries=3,
                            buckets=(1, 2, 4))

    class FromTwo(TorchBackend):
        smallest_bucket = 2

    engine = Engine(program, FromTwo(program, "cpu"))
    assert sorted(engine.runners) == [2, 4]
    t, x, mask, query = window(batch=1)
    z_init = np.zeros((1, ENCODED.modulation_dim), np.float32)
    pred, z, _ = engine(t.numpy(), x.numpy(), mask.numpy(), z_init, query.numpy())
    expected, expected_z, _ = adapt_and_predict(program.params, t, x, mask, torch.from_numpy(z_init),
                                                query, steps=1, config=ENCODED)
    np.testing.assert_allclose(pred, expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(z, expected_z.numpy(), atol=1e-5)


def _node_checkpoint(path):
    horizons = np.array([0.2, 0.6, 1.0])
    error = np.outer(horizons, np.ones(NUM_JOINTS)) * 0.1
    save_checkpoint(path, kind="nermo", layout=LAYOUT_ID, num_joints=NUM_JOINTS,
                    params=encoded_params(), train_config={"window": {"obs_frames": T}},
                    model_config=ENCODED, default_steps=1, obs_window_s=0.2,
                    validation={"horizons_s": horizons.tolist(), "mpjpe_joint_m": error.tolist()})
    return path


def test_export_for_the_node_builds_what_the_node_will_run(tmp_path, capsys):
    checkpoint = _node_checkpoint(tmp_path / "encoded.pt")
    params = tmp_path / "predictor.yaml"
    params.write_text("predictor:\n  ros__parameters:\n    predictor: nermo\n"
                      f"    checkpoint: {checkpoint}\n    backend: torch\n    num_adapt_steps: 2\n")
    assert main(["export", "--for-node", str(params)]) == 0
    assert "nermo: torch (eager on cpu), K=2 ready in" in capsys.readouterr().out


def test_export_for_the_node_refuses_a_bad_parameter_file(tmp_path, capsys):
    params = tmp_path / "predictor.yaml"
    params.write_text("predictor:\n  ros__parameters:\n    predictr: nermo\n")
    assert main(["export", "--for-node", str(params)]) == 2
    assert "unknown parameter" in capsys.readouterr().err
