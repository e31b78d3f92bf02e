"""`nermo-ros export` and `nermo-ros bench` on a tiny real checkpoint."""

from __future__ import annotations

import onnx
import pytest
import torch

from nermo_ros.checkpoint import save_checkpoint
from nermo_ros.cli import main
from nermo_ros.meta import init_params
from nermo_ros.model import ModelConfig

TINY = ModelConfig(width=16, modulation_dim=8, codebook_size=4, num_blocks=1, num_heads=2,
                   fourier_levels=2)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    gen = torch.Generator().manual_seed(0)
    params = {k: v + 0.05 * torch.randn(v.shape, generator=gen)
              for k, v in init_params(TINY).items()}
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, kind="nermo", layout=TINY.layout, num_joints=TINY.num_joints,
                    params=params, train_config={}, model_config=TINY, default_steps=2)
    return path


def test_export_writes_one_checked_onnx_graph_per_bucket(checkpoint, tmp_path, capsys):
    out = tmp_path / "onnx"
    status = main(["export", "--checkpoint", str(checkpoint), "--window-frames", "6",
                   "--num-queries", "3", "--buckets", "2", "--out", str(out),
                   "--cache-dir", str(tmp_path / "cache")])
    printed = capsys.readouterr().out
    assert status == 0, printed
    (graph,) = out.glob("*_k2_t6_q3_b2.onnx")
    model = onnx.load(graph)
    assert [i.name for i in model.graph.input] == ["obs_t", "obs_x", "obs_mask", "z_init", "query_t"]
    assert model.graph.input[1].type.tensor_type.shape.dim[0].dim_value == 2
    assert "onnxruntime" in printed and "ok" in printed


def test_export_of_a_missing_checkpoint_says_how_to_get_one(tmp_path, capsys):
    status = main(["export", "--checkpoint", str(tmp_path / "none.pt")])
    assert status == 2
    assert "does not exist" in capsys.readouterr().err


def test_bench_prints_a_latency_table_per_people_and_steps(checkpoint, capsys):
    status = main(["bench", "--checkpoint", str(checkpoint), "--backends", "torch:cpu",
                   "--people", "1,2", "--steps", "1,2", "--calls", "3", "--warmup", "1",
                   "--window-frames", "6", "--num-queries", "3"])
    printed = capsys.readouterr().out
    assert status == 0
    rows = [line for line in printed.splitlines() if line.startswith("| torch | cpu |")]
    assert len(rows) == 4
    assert "machine:" in printed and "1.0x" in printed


def test_bench_refuses_a_backend_that_cannot_run_here(checkpoint, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present; cudagraph can run")
    status = main(["bench", "--checkpoint", str(checkpoint), "--backends", "cudagraph",
                   "--people", "1", "--steps", "1", "--window-frames", "6", "--num-queries", "3"])
    assert status == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
