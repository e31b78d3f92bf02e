"""A training recipe: stages run in order, each from the weights the one before ended with.

The protocol model grew over many stages (models/MODEL_CARD.md); a recipe file lists them, so
one command re-makes a cross-validation fold or the every-trial model the same way, and a
machine lent in slices picks up where the last slice stopped: finished stages are skipped and
the stage in progress resumes from its ``last.pt``. Each stage's steps are fixed in the recipe
(its config's time budget is dropped), so every fold takes the same path.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from nermo_ros.training.config import TrainConfig, load_config

STAGE_KEYS = ("config", "steps", "seed")


@dataclass(frozen=True)
class Stage:
    config: Path  # a training YAML
    steps: int
    seed: int | None = None  # None: the config's own

    @property
    def name(self) -> str:
        return self.config.stem


def load_recipe(path: str | Path) -> tuple[Stage, ...]:
    """The stages of a recipe YAML; configs are named relative to the recipe's own folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe {path} does not exist; see config/recipe_*.yaml")
    raw = yaml.safe_load(path.read_text()) or {}
    if set(raw) != {"stages"} or not isinstance(raw["stages"], list) or not raw["stages"]:
        raise ValueError(f"{path}: a recipe is one key, `stages`, a list of "
                         f"{{config, steps[, seed]}}; found keys {sorted(raw)}")
    stages = []
    for number, entry in enumerate(raw["stages"], 1):
        where = f"{path}, stage {number}"
        if not isinstance(entry, dict) or not {"config", "steps"} <= set(entry) or \
                set(entry) - set(STAGE_KEYS):
            raise ValueError(f"{where}: give config and steps (and optionally seed), got {entry!r}")
        config = path.parent / entry["config"]
        if not config.is_file():
            raise ValueError(f"{where}: no training config {config}")
        steps, seed = entry["steps"], entry.get("seed")
        if not isinstance(steps, int) or steps <= 0:
            raise ValueError(f"{where}: steps must be a positive whole number, got {steps!r}")
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"{where}: seed must be a whole number, got {seed!r}")
        stages.append(Stage(config, steps, seed))
    return tuple(stages)


def stage_dir(out_dir: Path, index: int, stage: Stage) -> Path:
    return out_dir / f"{index + 1:02d}_{stage.name}"


def first_unfinished(stages: tuple[Stage, ...], out_dir: Path) -> int:
    """Index of the stage to run next: the one after the last with a final checkpoint (earlier
    stages' folders may be deleted to save space once a later one has finished)."""
    for index in reversed(range(len(stages))):
        if (stage_dir(out_dir, index, stages[index]) / "final.pt").is_file():
            return index + 1
    return 0


def stage_config(stage: Stage, init_from: Path | None) -> TrainConfig:
    """The stage's config with the recipe's steps and seed, no time budget, and the previous
    stage's weights to start from (the first stage keeps its config's own start)."""
    cfg = load_config(stage.config)
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, steps=stage.steps,
                                                             max_minutes=0.0))
    if stage.seed is not None:
        cfg = dataclasses.replace(cfg, seed=stage.seed)
    if init_from is not None:
        cfg = dataclasses.replace(cfg, init_from=str(init_from))
    return cfg


def run_recipe(stages: tuple[Stage, ...], out_dir: str | Path,
               adapt: Callable[[TrainConfig], TrainConfig], train_stage: Callable[..., Path],
               pause_after_minutes: float = 0.0, last_stage: int = 0) -> Path:
    """Run the unfinished stages; -> ``out_dir/final.pt`` (a copy of the last stage's) when all
    are done, else the checkpoint to resume from when ``pause_after_minutes`` ran out or stage
    ``last_stage`` (1-based; 0: the last) ended. Stopping at a stage's end leaves only weights to
    carry to the next machine, not the optimiser's state.

    ``adapt(cfg)`` applies the caller's split and data choices to every stage;
    ``train_stage(cfg, stage_out, pause_after_minutes=...)`` trains one stage (``loop.train``).
    """
    out_dir = Path(out_dir)
    deadline = time.monotonic() + pause_after_minutes * 60.0 if pause_after_minutes > 0 else None
    start = first_unfinished(stages, out_dir)
    previous = stage_dir(out_dir, start - 1, stages[start - 1]) / "final.pt" if start else None
    if not 0 <= last_stage <= len(stages):
        raise ValueError(f"last stage {last_stage}: the recipe has stages 1-{len(stages)}")
    for index in range(start, last_stage or len(stages)):
        stage = stages[index]
        remaining = 0.0
        if deadline is not None:
            remaining = (deadline - time.monotonic()) / 60.0
            if remaining <= 0 and index > start:  # out of time between stages
                return previous
            remaining = max(remaining, 1e-6)
        print(f"stage {index + 1}/{len(stages)} {stage.name}: {stage.steps} steps from "
              f"{previous or 'its config'}", file=sys.stderr)
        result = train_stage(adapt(stage_config(stage, previous)),
                             stage_dir(out_dir, index, stage), pause_after_minutes=remaining)
        if result.name != "final.pt":
            return result
        previous = result
    if last_stage and last_stage < len(stages):
        return previous  # set: the loop ran, or an earlier call finished stage last_stage
    final = out_dir / "final.pt"
    if previous is not None and (not final.is_file() or
                                 final.stat().st_mtime < previous.stat().st_mtime):
        shutil.copyfile(previous, final)
    return final


def carry_weights(out_dir: str | Path, dest_dir: str | Path) -> Path:
    """Copy a recipe run's newest finished stage as 16-bit weights, without the optimiser's
    state (a few MB instead of tens), into the same layout under ``dest_dir``: enough for
    ``run_recipe`` on another machine to go on with the next stage, or, when it was the last,
    to write ``final.pt`` again. -> the file written."""
    import torch

    out_dir, dest_dir = Path(out_dir), Path(dest_dir)
    finished = sorted(out_dir.glob("[0-9][0-9]_*/final.pt"))
    if not finished:
        raise FileNotFoundError(f"{out_dir} has no finished stage (<nn>_<stage>/final.pt)")
    payload = torch.load(finished[-1], map_location="cpu", weights_only=True)
    payload["params"] = {k: v.half() if v.is_floating_point() else v
                         for k, v in payload["params"].items()}
    payload.pop("training_state", None)
    target = dest_dir / finished[-1].relative_to(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, target)
    return target
