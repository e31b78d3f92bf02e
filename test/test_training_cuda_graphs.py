"""`nermo-ros train --cuda-graphs`: captured steps train exactly as eager ones, resume either
way, and are refused where they cannot run. The parity tests need a CUDA device (they run on
the GPU machine, skip elsewhere); the refusals run everywhere."""

import dataclasses
import json
import os
from pathlib import Path

import pytest
import torch

from nermo_ros.training.config import load_config
from nermo_ros.training.graphed import GraphedSteps, make_optimizer
from nermo_ros.training.loop import train

REPO = Path(__file__).resolve().parents[1]
CMU_DIR = Path(os.environ.get("NERMO_CMU_DIR", REPO.parent / "shared/data/cmu_mocap"))
needs_data = pytest.mark.skipif(not (CMU_DIR / "train").is_dir(),
                                reason="CMU mocap data not present")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _config(steps, kind="nermo", inner_steps=(1, 2, 3)):
    path = "config/train_smoke.yaml" if kind == "nermo" else "config/train_dct_mlp_body17.yaml"
    cfg = load_config(REPO / path)
    return dataclasses.replace(
        cfg, data_dir=str(CMU_DIR), save_every=3, log_every=1,
        optim=dataclasses.replace(cfg.optim, steps=steps, batch_size=8, warmup_steps=3,
                                  max_minutes=0),
        meta=dataclasses.replace(cfg.meta, inner_steps=list(inner_steps)))


def _losses(run: Path) -> dict[int, tuple[float, float]]:
    """step -> (loss, gradient norm) from a run's log (every step logged)."""
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return {row["step"]: (row["loss"], row["grad_norm"]) for row in rows}


def _assert_same_training(a: dict, b: dict) -> None:
    """Each step's loss and gradient norm agree. (Weights are compared through these, not
    directly: Adam turns the rounding noise of a gradient that is zero in exact arithmetic, such
    as an attention key's bias, into updates of the learning rate's size either way.)"""
    assert sorted(a) == sorted(b) and len(a) > 1
    for step in a:
        assert a[step] == pytest.approx(b[step], rel=1e-4, abs=1e-6), step


@needs_data
@needs_cuda
@pytest.mark.parametrize("kind", ["nermo", "dct_mlp"])
def test_replayed_steps_train_the_same_weights_as_eager_steps(tmp_path, kind):
    # Inner-step counts drawn at random: graphs are captured as new counts come and replayed
    # in any order from one memory pool; the learning rate changes every step (warm-up, decay).
    cfg = _config(9, kind)
    train(cfg, tmp_path / "eager", device="cuda")
    train(cfg, tmp_path / "graphed", device="cuda", cuda_graphs=True)
    eager, graphed = _losses(tmp_path / "eager"), _losses(tmp_path / "graphed")
    _assert_same_training(eager, graphed)  # a stale batch, lr or weights would not match


@needs_data
@needs_cuda
@pytest.mark.parametrize("first, then", [(False, True), (True, False)])
def test_a_run_resumes_the_other_way_as_if_uninterrupted(tmp_path, first, then):
    train(_config(4), tmp_path / "split", device="cuda", cuda_graphs=first)
    train(_config(8), tmp_path / "split", device="cuda", cuda_graphs=then)
    train(_config(8), tmp_path / "straight", device="cuda")
    _assert_same_training(_losses(tmp_path / "split"), _losses(tmp_path / "straight"))


@needs_cuda
def test_a_batch_of_another_shape_is_refused_not_replayed():
    from nermo_ros.training.windows import Batch

    w = torch.zeros(3, device="cuda", requires_grad=True)
    opt = make_optimizer([w], 1e-3, 0.0, cuda_graphs=True)
    steps = GraphedSteps(lambda batch, k: (w * batch.obs_t.sum()).sum(), [w], opt, 1.0)

    def batch(n):
        ones = torch.ones(n, 2, device="cuda")
        return Batch(ones, ones, ones, ones, ones)

    steps.step(batch(2), 1)
    with pytest.raises(ValueError, match="changed shape"):
        steps.step(batch(3), 1)


@needs_data
def test_cuda_graphs_on_the_cpu_are_refused_at_start(tmp_path, capsys):
    from nermo_ros.cli import main

    with pytest.raises(ValueError, match="CUDA device"):
        train(_config(2), tmp_path / "run", device="cpu", cuda_graphs=True)
    with pytest.raises(SystemExit, match="--cuda-graphs needs --device cuda"):
        main(["train", "--config", str(REPO / "config/train_smoke.yaml"), "--data", str(CMU_DIR),
              "--device", "cpu", "--cuda-graphs", "--out", str(tmp_path / "cli")])
    assert not (tmp_path / "run" / "last.pt").exists() and not (tmp_path / "cli").exists()


def test_graphed_steps_refuse_weights_off_the_gpu_and_a_plain_optimizer():
    w = torch.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="CUDA device"):
        GraphedSteps(lambda batch, k: w.sum(), [w], make_optimizer([w], 1e-3, 0.0, False), 1.0)
    if torch.cuda.is_available():
        g = torch.zeros(3, device="cuda", requires_grad=True)
        with pytest.raises(ValueError, match="capturable"):
            GraphedSteps(lambda batch, k: g.sum(), [g], make_optimizer([g], 1e-3, 0.0, False), 1.0)
