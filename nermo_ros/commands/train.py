"""`nermo-ros train --config config/train_body17.yaml`: meta-train NeRMo or the DCT-MLP baseline.

``--recipe config/recipe_cmu25_protocol.yaml`` runs a recipe's stages in order instead, each
from the one before (``training/recipe.py``): finished stages are skipped, so a call cut short by
``--pause-after-minutes`` is resumed by the same command.

Resumes from ``OUT/last.pt`` when it exists; ``torchrun --nproc_per_node=N -m nermo_ros.cli
train ...`` trains data-parallel on N GPUs. ``--fold k --folds K`` trains cross-validation fold
k's training trials; ``--all-trials`` trains on every trial (see ``DataConfig``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys



def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", help="YAML file, e.g. config/train_body17.yaml")
    what.add_argument("--recipe", help="a recipe YAML listing stages (config, steps, seed), "
                      "e.g. config/recipe_cmu25_protocol.yaml; each stage trains in OUT/<nn>_<config "
                      "name> and OUT/final.pt is the last one's")
    parser.add_argument("--out", default="", help="run directory (default: runs/<config or recipe "
                        "name>, plus _fold<k>of<K> or _all)")
    parser.add_argument("--data", default="", help="CMU mocap folder (default: the config's, "
                        "else $NERMO_CMU_DIR or ../shared/data/cmu_mocap)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (a GPU if "
                        "torch sees one)")
    parser.add_argument("--steps", type=_whole_steps, default=0, help="override optim.steps "
                        "(0: the config's)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    parser.add_argument("--pause-after-minutes", type=float, default=0.0,
                        help="stop this call after so many minutes and save OUT/last.pt to "
                        "resume from (for machines lent in slices); 0: run to the end")
    parser.add_argument("--last-stage", type=int, default=0, help="with --recipe: stop after "
                        "this stage (1-based) ends, so that only weights need carrying to the "
                        "next machine; 0: run to the recipe's end")
    parser.add_argument("--shared-stages-from", default=None, metavar="RUN",
                        help="with an arm recipe (base + arm): take the stages before the arm's "
                        "first from RUN, a run of the base recipe on the same split, instead of "
                        "training them again")
    parser.add_argument("--cuda-graphs", action="store_true", help="replay each inner-step "
                        "count's captured training step (1.7x the steps a minute of one run "
                        "alone on a GPU; one process, --device cuda)")
    parser.add_argument("--no-validate", action="store_true", help="skip the validation at the end "
                        "(a predictor refuses a checkpoint without it)")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--fold", type=int, default=None, help="train on cross-validation fold "
                       "FOLD's training trials and validate on its own (data.split: fold)")
    split.add_argument("--all-trials", action="store_true",
                       help="train on every trial (data.split: all), e.g. for the shipped models")
    parser.add_argument("--folds", type=int, default=None, help="override data.num_folds")
    parser.add_argument("--fold-seed", type=int, default=None, help="override data.fold_seed")
    parser.add_argument("--seed", type=int, default=None, help="override seed (a stage run "
                        "again from its own output needs batches it has not seen)")
    parser.add_argument("--init-from", default=None, help="override init_from (a stage's "
                        "starting weights; for a fold, the same fold's earlier stage)")


def _whole_steps(text: str) -> int:
    """--steps: a whole number, 0 keeping the config's."""
    try:
        steps = int(text)
    except ValueError:
        steps = -1
    if steps < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of steps (0: the "
                                         "config's own)")
    return steps


# Above this many windows a step, CPU meta-training is likely to run out of memory.
CPU_BATCH_WARNING = 32


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nermo_ros.training.config import load_config
    from nermo_ros.training.loop import train
    from nermo_ros.training.validation import validate

    if args.recipe:
        return _run_recipe(args)
    if args.last_stage or args.shared_stages_from:
        raise SystemExit("nermo-ros train: --last-stage and --shared-stages-from go with --recipe")
    cfg = _with_split_and_data(load_config(args.config), args)
    if args.steps:
        cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, steps=args.steps))
    if args.init_from is not None:
        cfg = dataclasses.replace(cfg, init_from=args.init_from)
    if args.seed is not None:
        cfg = dataclasses.replace(cfg, seed=args.seed)
    device = _device(args.device, cfg.optim.batch_size if cfg.optim.steps > 0 else 0,
                     args.cuda_graphs)
    out = Path(args.out or Path("runs") / (Path(args.config).stem + _run_suffix(cfg.data)))
    final = train(cfg, out, device=device, resume=not args.no_resume,
                  validate_fn=None if args.no_validate else validate,
                  pause_after_minutes=args.pause_after_minutes, cuda_graphs=args.cuda_graphs)
    _report(final)
    return 0


def _run_recipe(args: argparse.Namespace) -> int:
    """Every unfinished stage of the recipe, each with this command's split and data."""
    from pathlib import Path

    from nermo_ros.training.loop import train
    from nermo_ros.training.recipe import load_recipe, run_recipe, stage_config
    from nermo_ros.training.validation import validate

    given = [flag for flag, value in (("--steps", args.steps or None), ("--seed", args.seed),
                                      ("--init-from", args.init_from),
                                      ("--no-resume", args.no_resume or None))
             if value is not None]
    if given:
        raise SystemExit(f"nermo-ros train: {', '.join(given)} cannot go with --recipe: the "
                         "recipe fixes each stage's steps, seed and start, and resumes")
    stages = load_recipe(args.recipe)

    def adapt(cfg):
        return _with_split_and_data(cfg, args)

    first = adapt(stage_config(stages[0], None))
    largest_batch = max((stage_config(stage, None).optim.batch_size for stage in stages
                         if stage.steps > 0), default=0)
    device = _device(args.device, largest_batch, args.cuda_graphs)
    out = Path(args.out or Path("runs") / (Path(args.recipe).stem + _run_suffix(first.data)))

    def train_stage(cfg, stage_out, pause_after_minutes):
        final = train(cfg, stage_out, device=device, resume=True,
                      validate_fn=None if args.no_validate else validate,
                      pause_after_minutes=pause_after_minutes, cuda_graphs=args.cuda_graphs)
        _report(final)
        return final

    result = run_recipe(stages, out, adapt, train_stage, args.pause_after_minutes,
                        args.last_stage, args.shared_stages_from)
    if result.name == "final.pt" and result.parent == out:
        print(f"recipe done: {result}", file=sys.stderr)
    else:
        print(f"recipe stopped at {result}; run the same command again to go on",
              file=sys.stderr)
    return 0


def _device(requested: str, batch_size: int, cuda_graphs: bool = False) -> str:
    """The checked device; warns when ``batch_size`` (the largest a run trains with, 0 for
    none) is likely too much for a CPU."""
    import torch

    from nermo_ros.commands.device import resolve_device

    device = resolve_device(requested, "train")
    if device == "cpu" and batch_size > CPU_BATCH_WARNING:
        # Meta-gradients through K unrolled steps hold every step's activations: the shipped
        # configs (batch 128-256) need more than a 24 GiB machine has and get killed silently.
        print(f"warning: batch_size {batch_size} on the CPU may exhaust memory "
              f"(about 24 GiB at 128); the shipped configs are sized for a GPU. Use "
              f"--device cuda, or config/train_smoke.yaml for a CPU check.", file=sys.stderr)
    if cuda_graphs and device == "cpu":
        raise SystemExit("nermo-ros train: --cuda-graphs needs --device cuda (got cpu)")
    if device != "cpu":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def _report(final) -> None:
    """Name a finished checkpoint and print its validation line (rank 0 only)."""
    if final.name == "final.pt" and final.is_file() and os.environ.get("RANK", "0") == "0":
        from nermo_ros.checkpoint import load_raw

        validation = load_raw(final)["validation"]
        print(f"wrote {final}", file=sys.stderr)
        if validation:
            print(json.dumps({"protocol_horizons_ms": validation["protocol_horizons_ms"],
                              "mpjpe_mm": [round(v, 2) for v in validation["protocol_mpjpe_mm"]]}))


def _with_split_and_data(cfg, args):
    """The config with the command line's data folder and split flags applied."""
    if args.data:
        cfg = dataclasses.replace(cfg, data_dir=args.data)
    return dataclasses.replace(cfg, data=_data_overrides(cfg.data, args))


def _data_overrides(data, args):
    """The config's DataConfig with the command line's split flags applied (checked again)."""
    changes = {}
    if args.fold is not None:
        changes.update(split="fold", fold=args.fold)
    if args.all_trials:
        changes["split"] = "all"
    if args.folds is not None:
        changes["num_folds"] = args.folds
    if args.fold_seed is not None:
        changes["fold_seed"] = args.fold_seed
    return dataclasses.replace(data, **changes)


def _run_suffix(data) -> str:
    """Default run folders keep fold, all-trials and held-out runs of one config apart."""
    if data.split == "fold":
        return f"_fold{data.fold}of{data.num_folds}"
    return "_all" if data.split == "all" else ""
