"""A training recipe: stages run in order, each from the weights the one before ended with.

The protocol model grew over many stages (models/MODEL_CARD.md); a recipe file lists them, so
one command re-makes a cross-validation fold or the every-trial model the same way, and a
machine lent in slices picks up where the last slice stopped: finished stages are skipped and
the stage in progress resumes from its ``last.pt``. Each stage's steps are fixed in the recipe
(its config's time budget is dropped), so every fold takes the same path.

An *arm* is a recipe that changes a base recipe from one stage on (``base``, ``arm: {name,
from_stage, overrides}``): the stages from ``from_stage`` train with ``overrides`` merged into
their configs, in folders named with the arm's suffix, so an arm and its base recipe compared
on the same folds differ in that change alone; the stages before it can be taken from a run
of the base recipe instead of being trained again (``shared_run``). An arm's base may itself
be an arm: the stages both change carry both suffixes and both overrides (the outer arm's
last), so a change that won can become the control of the next.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from nermo_ros.paths import existing_or_packaged
from nermo_ros.training.config import TrainConfig, load_config, merge_sections

STAGE_KEYS = ("config", "steps", "seed")
ARM_KEYS = ("name", "from_stage", "overrides")
SPLIT_KEYS = ("split", "fold", "num_folds", "fold_seed")  # what a shared stage must match


@dataclass(frozen=True)
class Stage:
    config: Path  # a training YAML
    steps: int
    seed: int | None = None  # None: the config's own
    arms: tuple[str, ...] = ()  # the arms that change this stage, innermost first
    overrides: dict = field(default_factory=dict, compare=False)  # {section: {key: value}}

    @property
    def arm(self) -> str:
        """The folder suffix of the arms that change this stage; "": the base recipe's own."""
        return "_".join(self.arms)

    @property
    def name(self) -> str:
        return self.config.stem + (f"_{self.arm}" if self.arm else "")


def load_recipe(path: str | Path) -> tuple[Stage, ...]:
    """The stages of a recipe YAML; configs are named relative to the recipe's own folder."""
    path = existing_or_packaged(path, "recipe", "; see config/recipe_*.yaml")
    raw = yaml.safe_load(path.read_text()) or {}
    if isinstance(raw, dict) and set(raw) == {"base", "arm"}:
        return _load_arm(path, raw)
    if set(raw) != {"stages"} or not isinstance(raw["stages"], list) or not raw["stages"]:
        raise ValueError(f"{path}: a recipe is one key, `stages`, a list of "
                         f"{{config, steps[, seed]}} (or, for an arm, `base` and `arm`); "
                         f"found keys {sorted(raw)}")
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


def _load_arm(path: Path, raw: dict) -> tuple[Stage, ...]:
    """The base recipe's stages, those from ``arm.from_stage`` on changed by the arm; each
    changed stage's config is built here, so a bad override is refused before training."""
    base = load_recipe(path.parent / str(raw["base"]))
    arm = raw["arm"]
    if not isinstance(arm, dict) or set(arm) != set(ARM_KEYS):
        raise ValueError(f"{path}: arm needs exactly {', '.join(ARM_KEYS)}, got {arm!r}")
    name, first, overrides = (arm[key] for key in ARM_KEYS)
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"{path}: arm name {name!r} names stage folders; use a-z, 0-9 and _")
    if any(name in stage.arms for stage in base):
        raise ValueError(f"{path}: the base {raw['base']} already has an arm named {name!r}")
    if not isinstance(first, int) or not 1 <= first <= len(base):
        raise ValueError(f"{path}: arm from_stage {first!r} must be a stage of the base, "
                         f"1-{len(base)}")
    if not isinstance(overrides, dict) or not overrides or \
            not all(isinstance(v, dict) and v for v in overrides.values()):
        raise ValueError(f"{path}: arm overrides are config sections and the keys they change, "
                         f"e.g. {{window: {{time_reverse_share: 0.5}}}}; got {overrides!r}")
    stages = base[:first - 1] + tuple(
        dataclasses.replace(stage, arms=stage.arms + (name,),
                            overrides=merge_sections(stage.overrides, overrides))
        for stage in base[first - 1:])
    for stage in stages[first - 1:]:
        _stage_train_config(stage)
    return stages


def arm_start(stages: tuple[Stage, ...]) -> int | None:
    """Index of the first stage the (outermost) arm changes, or None for a recipe that is no
    arm. The stages before it are its base's, which a shared run stands for."""
    if not stages[-1].arms:
        return None
    outermost = stages[-1].arms[-1]  # an arm changes every stage from its first to the last
    return next(index for index, stage in enumerate(stages) if outermost in stage.arms)


def _stage_train_config(stage: Stage) -> TrainConfig:
    """The stage's config file with its arm's overrides merged in."""
    return load_config(stage.config, stage.overrides, f"with arm {stage.arm}" if stage.arm else "")


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
    cfg = _stage_train_config(stage)
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, steps=stage.steps,
                                                             max_minutes=0.0))
    if stage.seed is not None:
        cfg = dataclasses.replace(cfg, seed=stage.seed)
    if init_from is not None:
        cfg = dataclasses.replace(cfg, init_from=str(init_from))
    return cfg


def run_recipe(stages: tuple[Stage, ...], out_dir: str | Path,
               adapt: Callable[[TrainConfig], TrainConfig], train_stage: Callable[..., Path],
               pause_after_minutes: float = 0.0, last_stage: int = 0,
               shared_run: str | Path | None = None) -> Path:
    """Run the unfinished stages; -> ``out_dir/final.pt`` (a copy of the last stage's) when all
    are done, else the checkpoint to resume from when ``pause_after_minutes`` ran out or stage
    ``last_stage`` (1-based; 0: the last) ended. Stopping at a stage's end leaves only weights to
    carry to the next machine, not the optimiser's state.

    ``adapt(cfg)`` applies the caller's split and data choices to every stage;
    ``train_stage(cfg, stage_out, pause_after_minutes=...)`` trains one stage (``loop.train``).
    ``shared_run``: for an arm, a run of its base recipe on the same split, whose stages
    before the arm's first stand for this run's own.
    """
    out_dir = Path(out_dir)
    deadline = time.monotonic() + pause_after_minutes * 60.0 if pause_after_minutes > 0 else None
    start = first_unfinished(stages, out_dir)
    previous = stage_dir(out_dir, start - 1, stages[start - 1]) / "final.pt" if start else None
    if not 0 <= last_stage <= len(stages):
        raise ValueError(f"last stage {last_stage}: the recipe has stages 1-{len(stages)}")
    if shared_run is not None:
        first = _first_unshared(stages)
        if start < first:  # none of the arm's own stages has finished here yet
            start, previous = first, _shared_checkpoint(stages, first, Path(shared_run))
            _check_same_split(previous, adapt(stage_config(stages[start], previous)).data)
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


def _first_unshared(stages: tuple[Stage, ...]) -> int:
    """The arm's first stage, refusing a recipe with no stages to share."""
    first = arm_start(stages)
    if not first:
        raise ValueError("a shared run stands for the stages before an arm's first; this recipe "
                         + ("is no arm" if first is None else "changes every stage"))
    return first


def _shared_checkpoint(stages: tuple[Stage, ...], first: int, shared_run: Path) -> Path:
    """The shared run's checkpoint of the last stage before the arm's ``first``."""
    done = first_unfinished(stages[:first], shared_run)
    if done < first:
        raise ValueError(f"{shared_run} has not finished stage {first} ({stages[first - 1].name}) "
                         f"of the base recipe, the last before the arm; finish it there first")
    return stage_dir(shared_run, first - 1, stages[first - 1]) / "final.pt"


def _check_same_split(checkpoint: Path, data) -> None:
    """Refuse a shared stage trained on another split (another fold's weights would leak its
    validation trials into this fold's figure)."""
    from nermo_ros.checkpoint import load_raw

    theirs = load_raw(checkpoint)["train_config"].get("data") or {}
    ours = dataclasses.asdict(data)
    differ = [key for key in SPLIT_KEYS if theirs.get(key) != ours.get(key)]
    if differ:
        raise ValueError(f"{checkpoint} was trained on another split ("
                         + ", ".join(f"{k} {theirs.get(k)!r} against {ours.get(k)!r}" for k in differ)
                         + "); share the stages of a run of the same split")


def finished_stage_pattern(stage: int = 0) -> str:
    """Glob of a run's finished stages, relative to the run folder (``stage``: only that one)."""
    return f"{stage:02d}_*/final.pt" if stage else "[0-9][0-9]_*/final.pt"


def carry_weights(out_dir: str | Path, dest_dir: str | Path, stage: int = 0) -> Path:
    """Copy a recipe run's newest finished stage (or stage ``stage``, 1-based, e.g. the one an
    arm will branch from) as 16-bit weights, without the optimiser's state (a few MB instead
    of tens), into the same layout under ``dest_dir``: enough for ``run_recipe`` on another
    machine to go on with the next stage, or, when it was the last, to write ``final.pt``
    again. -> the file written."""
    import torch

    out_dir, dest_dir = Path(out_dir), Path(dest_dir)
    finished = sorted(out_dir.glob(finished_stage_pattern(stage)))
    if not finished:
        which = f"stage {stage}" if stage else "finished stage"
        raise FileNotFoundError(f"{out_dir} has no {which} (<nn>_<stage>/final.pt)")
    payload = torch.load(finished[-1], map_location="cpu", weights_only=True)
    payload["params"] = {k: v.half() if v.is_floating_point() else v
                         for k, v in payload["params"].items()}
    payload.pop("training_state", None)
    target = dest_dir / finished[-1].relative_to(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, target)
    return target
