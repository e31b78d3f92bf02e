"""The training loop: bi-level meta-learning for NeRMo, plain regression for the DCT-MLP.

One loop for both kinds: batches of random windows with random missing joints and frames,
AdamW with warm-up and cosine decay, a progress line and a JSON-lines log, checkpoints that
resume (weights, optimizer, step, random state) and seeds that reproduce. Under ``torchrun``
every process draws its own batches and gradients are averaged (data-parallel).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nermo_ros.checkpoint import load_raw, save_checkpoint
from nermo_ros.data import cmu
from nermo_ros.dct_mlp import DctMlp
from nermo_ros.evaluation import folds
from nermo_ros.evaluation.metrics import horizon_weights, mpjpe_loss
from nermo_ros.meta import GROWABLE_FIELDS, adapt_and_predict, grow_params, init_params
from nermo_ros.model import ModelConfig
from nermo_ros.training.config import TrainConfig
from nermo_ros.training.graphed import (GraphedSteps, eager_step, make_optimizer,
                                       match_optimizer, set_lr)
from nermo_ros.training.windows import Batch, build_bank, sample_batch


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> tuple[Dist, torch.device]:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(), torch.device(device)
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    dev = torch.device(f"cuda:{local}") if torch.cuda.is_available() else torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return Dist(dist.get_rank(), world), dev


def average_gradients(params: list[Tensor], dist_info: Dist) -> None:
    if dist_info.world == 1:
        return
    import torch.distributed as dist

    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= dist_info.world


def agree_max(value: float, dist_info: Dist, dev: torch.device) -> float:
    """The largest value over all processes, so that every process stops at the same step."""
    if dist_info.world == 1:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], device=dev)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)


def lr_at(step: int, cfg: TrainConfig, time_progress: float = 0.0) -> float:
    """Linear warm-up, then cosine decay over the steps (or the time budget, if sooner)."""
    o = cfg.optim
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    progress = max((step - o.warmup_steps) / max(1, o.steps - o.warmup_steps), time_progress)
    return o.lr * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def init_weights(cfg: TrainConfig) -> dict[str, Tensor]:
    if cfg.init_from:
        return weights_from(Path(cfg.init_from), cfg)
    if cfg.kind == "nermo":
        return init_params(cfg.model, cfg.seed)
    torch.manual_seed(cfg.seed)
    net = make_dct_mlp(cfg)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def weights_from(path: Path, cfg: TrainConfig) -> dict[str, Tensor]:
    """A checkpoint's weights as the start of a new stage; refuses one of another shape, except
    for added blocks (``meta.grow_params``)."""
    payload = load_raw(path)
    theirs = payload["train_config"]
    if payload["kind"] != cfg.kind or not _same_or_grown(theirs.get("model"), cfg.model) or (
            cfg.kind == "dct_mlp" and theirs.get("dct_mlp") != asdict(cfg.dct_mlp)):
        raise ValueError(f"init_from {path}: a {payload['kind']!r} checkpoint whose model "
                         f"config differs from this config's; a stage must keep the shapes "
                         f"(it may only add blocks: {', '.join(GROWABLE_FIELDS)})")
    ours = _data_split(cfg.to_dict())
    if cfg.data.split != "all" and _data_split(theirs) != ours:
        raise ValueError(f"init_from {path} was trained on data {_data_split(theirs)}, but this "
                         f"stage trains on {ours}; its weights may have seen this stage's "
                         "validation trials. Start from an earlier stage of the same split "
                         "(for a fold, the same fold).")
    params = {k: v.detach().clone() for k, v in payload["params"].items()}  # 32-bit (load_raw)
    if cfg.kind != "nermo" or _same_shapes(theirs.get("model"), cfg.model):
        return params
    return grow_params(params, cfg.model, cfg.seed)


def _data_split(train_config: dict) -> dict:
    """The split a checkpoint trained on (checkpoints older than ``DataConfig``: heldout)."""
    data = {"split": "heldout", **(train_config.get("data") or {})}
    return data if data["split"] == "fold" else {"split": data["split"]}


def _same_shapes(theirs: dict | None, ours: ModelConfig) -> bool:
    """Equal weight shapes: a stage may change how the model adapts
    (``ModelConfig.ADAPTATION_FIELDS``) on the same weights."""
    return theirs is not None and ModelConfig.from_dict(theirs).shape_dict() == ours.shape_dict()


def _same_or_grown(theirs: dict | None, ours: ModelConfig) -> bool:
    """Equal weight shapes, or more blocks (``meta.GROWABLE_FIELDS``) and no other change."""
    if theirs is None:
        return False
    old, new = ModelConfig.from_dict(theirs).shape_dict(), ours.shape_dict()
    if any(new[f] < old[f] for f in GROWABLE_FIELDS):
        return False
    return ({k: v for k, v in old.items() if k not in GROWABLE_FIELDS}
            == {k: v for k, v in new.items() if k not in GROWABLE_FIELDS})


def make_dct_mlp(cfg: TrainConfig) -> DctMlp:
    w = cfg.window
    return DctMlp(cfg.model.num_joints, w.obs_frames, w.future_frames, cfg.dct_mlp)


def nermo_loss(params: dict[str, Tensor], batch: Batch, cfg: TrainConfig, steps: int) -> Tensor:
    """Outer loss: future MPJPE after ``steps`` inner steps, plus the window's reconstruction
    against the complete, noise-free ground truth (including the entries the inner loop did
    not see)."""
    b = batch.obs_x.shape[0]
    z0 = params["z0"].expand(b, -1)
    # One pass: the mirror average is a test-time choice, and training already sees mirror
    # images (window augmentation). Dropout acts here only.
    pred, _, recon = adapt_and_predict(
        params, batch.obs_t, batch.obs_x, batch.obs_mask, z0, batch.fut_t, steps=steps,
        config=replace(cfg.model, mirror_average=False, **cfg.optim.model_dropout()))
    weight = None
    if cfg.meta.horizon_weight_power:
        weight = horizon_weights(batch.fut_t, cfg.meta.horizon_weight_power,
                                 cfg.meta.horizon_weight_floor)
    return (mpjpe_loss(pred, batch.fut_x, weight)
            + cfg.meta.recon_weight * mpjpe_loss(recon, batch.obs_target))


def dct_loss(net: DctMlp, batch: Batch) -> Tensor:
    return mpjpe_loss(net(batch.obs_x, batch.obs_mask), batch.fut_x)


def split_trials(cfg: TrainConfig) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(training trials, validation trials) per action, as ``cfg.data`` says (``DataConfig``)."""
    root = Path(cfg.data_dir) if cfg.data_dir else cmu.default_data_dir()
    trials = cmu.list_trials(root)
    if cfg.data.split == "fold":
        chosen = folds.fold(trials, cfg.data.fold, cfg.data.num_folds, cfg.data.fold_seed)
        return chosen.train, chosen.validation
    train, heldout = cmu.heldout_split(trials)
    if cfg.data.split == "all":
        return trials, heldout
    return train, heldout


def training_files(cfg: TrainConfig) -> tuple[list[Path], dict[str, list[Path]]]:
    """(training trial files, validation trials per action); only with ``data.split: all`` do
    the validation trials also train."""
    train, validation = split_trials(cfg)
    files = [f for fs in train.values() for f in fs]
    held = {f for fs in validation.values() for f in fs}
    if cfg.data.split != "all" and held & set(files):
        raise AssertionError(f"validation trials leaked into training: {sorted(held & set(files))}")
    return files, validation


class Progress:
    """One self-overwriting progress line on a terminal, plain lines otherwise."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.t0 = total, enabled, time.time()
        self.tty = sys.stderr.isatty()

    def update(self, step: int, text: str) -> None:
        if not self.enabled:
            return
        done = (step + 1) / self.total
        bar = "#" * int(30 * done) + "." * (30 - int(30 * done))
        elapsed = time.time() - self.t0
        line = f"[{bar}] {step + 1}/{self.total} {elapsed:6.0f}s {text}"
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr,
              flush=True)

    def close(self) -> None:
        if self.enabled and self.tty:
            print(file=sys.stderr)


def train(cfg: TrainConfig, out_dir: str | Path, *, device: str = "cpu", resume: bool = True,
          validate_fn=None, pause_after_minutes: float = 0.0, cuda_graphs: bool = False) -> Path:
    """Train; returns the final checkpoint path (``out_dir/final.pt``), or ``out_dir/last.pt``
    when ``pause_after_minutes`` (> 0) ran out first: a later call resumes there, and the
    time budget ``optim.max_minutes`` counts the training time of all calls together.

    ``validate_fn(weights, cfg) -> dict`` (optional) runs on the held-out split at the end and
    its result is stored in the checkpoint (the predictor's uncertainty comes from it).
    ``cuda_graphs`` replays captured steps (``training/graphed.py``); a run may resume the
    other way.
    """
    out_dir = Path(out_dir)
    dist_info, dev = setup_distributed(device)
    if cuda_graphs and (dev.type != "cuda" or dist_info.world > 1):
        raise ValueError("CUDA graphs train in one process on a CUDA device (--device cuda, "
                         "without torchrun)")
    files, _ = training_files(cfg)
    skeleton = cmu.load_skeleton(cmu.find_skeleton_json(Path(files[0]).parent.parent))
    bank = build_bank(files, skeleton, cfg.layout, cfg.window.span_raw, dev,
                      cfg.window.action_balance, cfg.window.time_reverse_actions,
                      cfg.window.speed_jitter, cfg.window.speed_jitter_actions,
                      cfg.window.amplitude_copies_actions,
                      cfg.window.amplitude_pivot_raw)

    weights = {k: v.to(dev) for k, v in init_weights(cfg).items()}
    net = None
    if cfg.kind == "dct_mlp":
        net = make_dct_mlp(cfg).to(dev)
        net.load_state_dict(weights)
        trainable = [p for p in net.parameters()]
    else:
        for v in weights.values():
            v.requires_grad_(True)
        trainable = list(weights.values())
    opt = make_optimizer(trainable, cfg.optim.lr, cfg.optim.weight_decay, cuda_graphs)
    gen = torch.Generator(device=dev)
    gen.manual_seed(cfg.seed * 1000 + dist_info.rank)
    step_rng = np.random.default_rng(cfg.seed)
    start = 0
    trained_s = 0.0  # training time of earlier calls (resumed runs)
    last = out_dir / "last.pt"
    if resume and last.is_file():
        payload = load_raw(last)
        state, loaded = payload["training_state"], payload["params"]
        if net is not None:
            net.load_state_dict(loaded)
        else:
            with torch.no_grad():
                for k, v in weights.items():
                    v.copy_(loaded[k])
        opt.load_state_dict(state["optimizer"])
        match_optimizer(opt, cuda_graphs)
        gen.set_state(state["generator"][0])
        step_rng.bit_generator.state = state["step_rng"]
        start = state["step"]
        trained_s = float(state.get("trained_s", 0.0))
        if dist_info.rank > 0:  # only rank 0's stream is saved; others branch off it
            gen.manual_seed(cfg.seed * 1000 + dist_info.rank + 7919 * start)
        if dist_info.main:
            print(f"resuming {last} at step {start}", file=sys.stderr)

    out_dir.mkdir(parents=True, exist_ok=True)
    log = (out_dir / "log.jsonl").open("a") if dist_info.main else None
    progress = Progress(cfg.optim.steps - start, dist_info.main)
    running = None

    def loss_fn(batch: Batch, k: int) -> Tensor:
        return dct_loss(net, batch) if net is not None else nermo_loss(weights, batch, cfg, k)

    graphed = GraphedSteps(loss_fn, trainable, opt, cfg.optim.grad_clip) if cuda_graphs else None
    started = time.time()
    budget_s = cfg.optim.max_minutes * 60.0
    pause_s = pause_after_minutes * 60.0
    paused = False
    step = start
    for step in range(start, cfg.optim.steps):
        time_progress = (trained_s + time.time() - started) / budget_s if budget_s > 0 else 0.0
        if budget_s > 0 and agree_max(time_progress, dist_info, dev) >= 1.0:
            break
        if pause_s > 0 and agree_max((time.time() - started) / pause_s, dist_info, dev) >= 1.0:
            paused = True
            break
        set_lr(opt, lr_at(step, cfg, time_progress))
        batch = sample_batch(bank, cfg.window, cfg.model, cfg.optim.batch_size, gen)
        k = int(step_rng.choice(cfg.meta.inner_steps))
        if graphed is not None:
            loss, grad_norm = graphed.step(batch, k)
        else:
            loss, grad_norm = eager_step(loss_fn, batch, k, trainable, opt, cfg.optim.grad_clip,
                                         lambda: average_gradients(trainable, dist_info))
        # On the device: reading a value waits for the GPU, so only logged steps do.
        running = loss.clone() if running is None else running.mul_(0.98).add_(0.02 * loss)
        if dist_info.main and ((step + 1) % cfg.log_every == 0 or step == start):
            mm = float(running) * cfg.model.position_unit_m * 1000
            log.write(json.dumps({"step": step + 1, "loss": float(loss),
                                  "loss_avg": float(running), "loss_avg_mm": mm,
                                  "inner_steps": k, "grad_norm": float(grad_norm),
                                  "lr": lr_at(step, cfg, time_progress),
                                  "time": time.time()}) + "\n")
            log.flush()
            progress.update(step - start, f"loss {mm:7.2f} mm (avg)")
        if dist_info.main and (step + 1) % cfg.save_every == 0:
            current = net.state_dict() if net is not None else weights
            _save(last, cfg, current, step + 1, opt, gen, step_rng, validation=None,
                  trained_s=trained_s + time.time() - started)
    else:
        step = cfg.optim.steps  # the loop ran to the end (not stopped by the time budget)
    progress.close()
    if dist_info.main and step > start:
        minutes = (time.time() - started) / 60.0
        print(f"trained steps {start + 1}-{step} in {minutes:.2f} min "
              f"({(step - start) / minutes:.0f} steps a minute"
              f"{', CUDA graphs' if cuda_graphs else ''})", file=sys.stderr)
    final = out_dir / "final.pt"
    if dist_info.main:
        current = net.state_dict() if net is not None else weights
        _save(last, cfg, current, step, opt, gen, step_rng, validation=None,
              trained_s=trained_s + time.time() - started)
    if paused:
        if dist_info.main:
            print(f"paused at step {step} after {pause_after_minutes:g} min; run the same "
                  f"command again to resume from {last}", file=sys.stderr)
        _finish_distributed(dist_info)
        return last
    if dist_info.main:
        validation = validate_fn(current, cfg) if validate_fn else {}
        _save(final, cfg, current, step, None, None, None, validation=validation)
    _finish_distributed(dist_info)
    return final


def _finish_distributed(dist_info: Dist) -> None:
    if dist_info.world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def _save(path: Path, cfg: TrainConfig, weights: dict, step: int, opt, gen, step_rng,
          validation, trained_s: float = 0.0) -> None:
    state = None
    if opt is not None:
        state = {"optimizer": opt.state_dict(), "generator": [gen.get_state().cpu()],
                 "step_rng": step_rng.bit_generator.state, "step": step, "trained_s": trained_s}
    # The history the model was trained on: at the slowest camera rate when windows are drawn
    # as a camera delivers them, so that the predictor keeps all of it.
    obs_window_s = cfg.window.obs_span_raw / cmu.RAW_FRAME_RATE_HZ
    save_checkpoint(
        path, kind=cfg.kind, layout=cfg.layout, num_joints=cfg.model.num_joints, params=weights,
        train_config=cfg.to_dict(), model_config=cfg.model if cfg.kind == "nermo" else None,
        validation=validation, default_steps=cfg.meta.eval_steps,
        obs_window_s=obs_window_s, step=step, training_state=state)
