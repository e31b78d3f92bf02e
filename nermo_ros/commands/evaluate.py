"""`nermo-ros evaluate`: MPJPE (mm) at 80..1000 ms of NeRMo and the baselines, on the same
samples, for the benchmark's 25-joint skeleton and the project's canonical one; per action,
with the 38-joint figure of the public code; on 8 seeded samples per trial or every window.

With ``--cv-models``, each cross-validation fold's checkpoints forecast only that fold's
validation trials, and the folds pool into one table.

With ``--perception-noise [FILE]`` the observed frames carry a camera's measured noise and
timing (``config/perception_noise.yaml``), one setting per camera rate, scored against the
clean future; the canonical skeleton only, since the noise is measured on it. Without
``--cv-models`` it also prints the jitter response (``evaluation.noise_response``).
"""

from __future__ import annotations

import argparse
import sys

LAYOUTS = ("cmu_protocol25", "nermo_body17")
SAMPLINGS = ("protocol8", "all")
NOISE_FILE = "config/perception_noise.yaml"
NOISE_LAYOUT = "nermo_body17"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="", help="folder laid out like the train folder "
                        "(<action>/<action>_<n>.txt[.gz]); every trial in it is evaluated. "
                        "Default: the held-out split (one trial per action) of $NERMO_CMU_DIR, "
                        "or all its trials with --cv-models")
    parser.add_argument("--skeleton", default="", help="skeleton.json (default: found next to "
                        "--data, else in the default data folder)")
    parser.add_argument("--layout", choices=LAYOUTS + ("all",), default="all")
    parser.add_argument("--models", default="", help="folder with nermo_body17.pt, "
                        "nermo_cmu_protocol25.pt, dct_mlp_body17.pt, dct_mlp_cmu_protocol25.pt "
                        "(default: the shipped models/), or one checkpoint file, scored on its "
                        "own skeleton")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 3, 10],
                        help="NeRMo adaptation steps to compare")
    parser.add_argument("--mirror-average", action="store_true",
                        help="also score each NeRMo step count mirror-averaged (rows "
                        "nermo_<k>step_mirror; see docs/model.md)")
    parser.add_argument("--level-body", action="store_true",
                        help="also score each NeRMo row with the window stood upright, as the "
                        "predictor node's level_body does (rows <row>_level; with --hold also "
                        "<row>_level_hold)")
    parser.add_argument("--hold", action="store_true",
                        help="also score each NeRMo row with the predictor node's default hold "
                        "of a jittery newest report (rows <row>_hold; docs/nodes.md)")
    parser.add_argument("--settings", nargs="+", default=None,
                        help="subset of: complete missing_joints_20 missing_joints_40 missing_frames_3of9")
    parser.add_argument("--sampling", nargs="+", choices=SAMPLINGS, default=["protocol8"],
                        help="protocol8: the 8 seeded samples per trial of the LTD protocol; "
                        "all: every window with stride 1, as PGBIG's released evaluation")
    parser.add_argument("--actions", nargs="+", default=None,
                        help="only these action folders (for short runs); with --cv-models "
                        "the folds are still dealt over every trial, as in training, and "
                        "only these actions' validation trials are scored")
    parser.add_argument("--device", default="cpu", help="where NeRMo and the DCT-MLP run: cpu, "
                        "cuda or auto (every window of every trial wants a GPU)")
    parser.add_argument("--cv-models", nargs="+", default=None, metavar="TEMPLATE",
                        help="cross-validate: per-fold checkpoint paths with {k} (fold index) "
                        "and optionally {layout}, e.g. runs/cv/cmu25_fold{k}of5/final.pt, "
                        "or a quoted pattern matching one file a fold, e.g. "
                        "'runs/recipe/fold{k}/12_*/final.pt'; NeRMo and DCT-MLP checkpoints "
                        "alike")
    parser.add_argument("--folds", type=int, default=5, help="number of cross-validation folds")
    parser.add_argument("--fold-seed", type=int, default=0, help="seed of the folds")
    parser.add_argument("--cv-allow-leak", action="store_true", help="score checkpoints that "
                        "were not trained on their fold (the figure is then contaminated and "
                        "marked so)")
    parser.add_argument("--cv-heldout-only", action="store_true", help="score only the "
                        "held-out split's trials, each by its own fold's model: the same windows "
                        "as a plain `evaluate` of a model trained without them, to compare")
    parser.add_argument("--velocity-blend-grid", action="store_true", help="with --cv-models: "
                        "also score NeRMo's headline row blended with constant velocity, each "
                        "fold at the grid point chosen on the other folds "
                        "(evaluation/velocity_blend.py), and print the choice on all folds")
    parser.add_argument("--perception-noise", nargs="?", const=NOISE_FILE, default=None,
                        metavar="FILE", help="inject the camera noise and timing of FILE "
                        f"(default {NOISE_FILE}) into the observed frames, one setting per "
                        "camera rate it lists, scored against the clean future; with "
                        "complete observations as the reference unless --settings says more")
    parser.add_argument("--per-trial", action="store_true", help="also print the headline "
                        "method's tables per trial (windows, mm, and on the protocol skeleton "
                        "the ratio to PGBIG's figure for the trial's action); results.json "
                        "holds every method's per-trial rows either way")
    parser.add_argument("--out", default="runs/evaluate",
                        help="folder for results.json and mpjpe.png")


def _trials(args, cross_validating: bool):
    from pathlib import Path

    from nermo_ros.data import cmu

    root = args.data or cmu.default_data_dir()
    trials = cmu.list_trials(root)
    source = f"all trials under {root}"
    if not args.data and not cross_validating:
        _, trials = cmu.heldout_split(trials)
        source = f"held-out split of {root}"
    if args.actions:
        unknown = sorted(set(args.actions) - set(trials))
        if unknown:
            raise ValueError(f"--actions {unknown} are not in {root}; choose from {sorted(trials)}")
        if not cross_validating:  # folds are dealt over every trial, then scored per action
            trials = {a: fs for a, fs in trials.items() if a in args.actions}
    if args.skeleton:
        skeleton_path = Path(args.skeleton)
    else:
        try:
            skeleton_path = cmu.find_skeleton_json(root)
        except FileNotFoundError:
            skeleton_path = cmu.find_skeleton_json(cmu.default_data_dir())
    return trials, cmu.load_skeleton(skeleton_path), source


def _settings(names, noise=None):
    """The mask settings named (default: all of them, or only ``complete`` under noise),
    then one perception-noise setting per camera rate of ``noise``."""
    from nermo_ros.evaluation import benchmark

    known = {s.name: s for s in benchmark.SETTINGS}
    unknown = [s for s in names or () if s not in known]
    if unknown:
        raise ValueError(f"unknown settings {unknown}; choose from {sorted(known)}")
    if names:
        chosen = tuple(known[s] for s in names)
    else:
        chosen = benchmark.SETTINGS[:1] if noise is not None else benchmark.SETTINGS
    if noise is None:
        return chosen
    from nermo_ros.evaluation.noisy_windows import noise_settings

    return chosen + noise_settings(noise)


def _noise(args):
    """(the noise model or None, its record for results.json, the layouts to run)."""
    layouts = LAYOUTS if args.layout == "all" else (args.layout,)
    if args.perception_noise is None:
        return None, None, layouts
    from pathlib import Path

    from nermo_ros.evaluation.perception_noise import load_noise
    from nermo_ros.paths import find_package_data

    path = Path(args.perception_noise)
    if not path.is_file() and args.perception_noise == NOISE_FILE:
        path = find_package_data(NOISE_FILE) or path
    if args.layout not in ("all", NOISE_LAYOUT):
        raise ValueError(f"--perception-noise is measured on the canonical skeleton; use "
                         f"--layout {NOISE_LAYOUT} (got {args.layout})")
    noise = load_noise(path)
    return noise, {"file": str(path), "model": noise.to_yaml_dict()}, (NOISE_LAYOUT,)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nermo_ros.commands.device import resolve_device
    from nermo_ros.evaluation import report

    device = resolve_device(args.device, "evaluate")
    cross_validating = bool(args.cv_models)
    try:
        noise, noise_record, layouts = _noise(args)
        settings = _settings(args.settings, noise)
        trials, skeleton, source = _trials(args, cross_validating)
        results = {"data": source, "samplings": list(args.sampling),
                   "trials": {a: [p.name for p in fs] for a, fs in trials.items()}}
        if noise_record:
            results["perception_noise"] = noise_record
        run_layout = _cross_validated if cross_validating else _plain
        if args.velocity_blend_grid and not cross_validating:
            raise ValueError("--velocity-blend-grid needs --cv-models: each fold's blend is "
                             "chosen on the other folds")
        ours = f"the trials under {args.data}" if args.data else report.OUR_TRIALS
        panels = {}
        for layout in layouts:
            results[layout], note = run_layout(args, trials, skeleton, layout, settings, device)
            for sampling in args.sampling:
                summary = results[layout][sampling]
                print(report.summary_text(layout, sampling, summary, note, ours,
                                         args.per_trial) + "\n")
                if "nested" in summary:
                    print(_nested_text(summary["nested"]) + "\n")
                if "jitter_response" in summary:
                    print(_response_text(summary["jitter_response"], layout, sampling) + "\n")
                panels.update({f"{layout}, {sampling}, {s}": per
                               for s, per in summary["mpjpe_mm"].items()})
    except (ValueError, FileNotFoundError) as error:
        print(f"evaluate: {error}", file=sys.stderr)
        return 2
    from nermo_ros.evaluation import published

    results["published"] = published.as_dict()
    out = Path(args.out)
    report.write_json(out / "results.json", results)
    report.plot(out / "mpjpe.png", panels)
    print(f"wrote {out / 'results.json'} and {out / 'mpjpe.png'}", file=sys.stderr)
    return 0


def _plain(args, trials, skeleton, layout, settings, device):
    """One set of models (``--models``) on every listed trial."""
    from pathlib import Path

    from nermo_ros.checkpoint import MODELS_DIR
    from nermo_ros.evaluation import benchmark, methods

    models = Path(args.models) if args.models else MODELS_DIR
    nermo, dct = (_model_from(models, kind, layout) for kind in ("nermo", "dct_mlp"))
    chosen = methods.all_methods(nermo, dct, tuple(args.steps), device, args.mirror_average,
                                 args.hold, args.level_body)
    sequences = benchmark.load_sequences(trials, skeleton, layout)
    metrics = benchmark.layout_metrics(layout)
    out = {"nermo_model_id": nermo.model_id if nermo else None,
           "dct_mlp_model_id": dct.model_id if dct else None}
    noise = next((s.noise for s in settings if hasattr(s, "noise")), None)
    for sampling in args.sampling:
        samples = benchmark.cut_samples(trials, sequences, sampling)
        errors = benchmark.sample_errors(samples, chosen, metrics, settings)
        out[sampling] = benchmark.summary(errors)
        if noise is not None and noise.jitter_rms_3d_m() > 0:
            from nermo_ros.evaluation.noise_response import jitter_response

            out[sampling]["jitter_response"] = jitter_response(samples, chosen, noise)
    return out, ""


def _nested_text(record) -> str:
    """The blend chosen for each fold and on all folds (``velocity_blend.choose_nested``)."""
    point = lambda c: f"share {c['share']:g}, time constant {c['time_constant_s']:g} s"  # noqa: E731
    lines = [f"constant-velocity blend, chosen on {record['chosen_on']}:"]
    lines += [f"  fold {c['fold']}: {point(c)}" for c in record["per_fold"]]
    lines.append(f"  all folds (for the model trained on every trial): {point(record['all_folds'])}")
    return "\n".join(lines)


def _response_text(response, layout, sampling):
    from nermo_ros.evaluation.noise_response import response_text
    from nermo_ros.evaluation.report import SAMPLING_LABELS

    return response_text(response, f"### {layout}, {SAMPLING_LABELS[sampling]}: jitter "
                         "response (25 Hz, measured jitter times 0, 1, 2; gain: forecast "
                         "spread over injected jitter, 1 = standing still)")


def _cross_validated(args, trials, skeleton, layout, settings, device):
    """Fold k's checkpoints on fold k's validation trials, pooled over the folds."""
    from nermo_ros.evaluation import benchmark, cross_validation, folds, methods

    all_folds = folds.make_folds(trials, args.folds, args.fold_seed)
    per_fold, checkpoints, leaks = [], [], []
    for fold in all_folds:
        chosen = methods.baseline_methods()
        for template in args.cv_models:
            path = cross_validation.fold_checkpoint_path(template, fold.index, layout)
            ckpt = _load_any(path, layout)
            leak = cross_validation.fold_leak(ckpt.train_config, ckpt.validation, fold)
            if leak:
                leaks.append(f"{path}: {leak}")
            found = methods.checkpoint_methods(ckpt, tuple(args.steps), device,
                                               args.mirror_average, args.hold, args.level_body)
            if args.velocity_blend_grid and ckpt.kind == "nermo":
                found = _with_blend_grid(found, ckpt, path)
            clash = set(found) & (set(chosen) - set(methods.baseline_methods()))
            if clash:
                raise ValueError(f"two --cv-models templates give {sorted(clash)} for fold "
                                 f"{fold.index}; give one NeRMo and at most one DCT-MLP template")
            chosen.update(found)
            checkpoints.append({"fold": fold.index, "path": str(path), "model_id": ckpt.model_id,
                                "leak": leak})
        per_fold.append(chosen)
    if leaks and not args.cv_allow_leak:
        raise ValueError("these checkpoints were not trained on their fold, so their figures "
                         "would be contaminated:\n  " + "\n  ".join(leaks) + "\ntrain them with "
                         "`nermo-ros train --fold k --folds K`, or pass --cv-allow-leak to score "
                         "them anyway (marked as contaminated)")
    for leak in leaks:
        print(f"warning: CONTAMINATED: {leak}", file=sys.stderr)
    out = {"cross_validation": {"folds": args.folds, "fold_seed": args.fold_seed,
                                "checkpoints": checkpoints, "contaminated": bool(leaks)}}
    scored, scored_note = _scored_folds(args, all_folds, trials)
    if scored_note:
        out["cross_validation"]["scored"] = scored_note
    validated = {a: [t for f in scored for t in f.validation.get(a, [])] for a in trials}
    sequences = benchmark.load_sequences(validated, skeleton, layout)
    metrics = benchmark.layout_metrics(layout)
    choose = None
    if args.velocity_blend_grid:
        from nermo_ros.evaluation import report, velocity_blend

        base = report.headline_method(per_fold[0])
        choose = lambda parts: velocity_blend.choose_nested(parts, base)  # noqa: E731
    for sampling in args.sampling:
        out[sampling] = cross_validation.cross_validate(
            scored, sequences, lambda k: per_fold[k], metrics, sampling, settings, choose)
    note = (f", {args.folds}-fold cross-validation" + (", CONTAMINATED" if leaks else "")
            + (f", {scored_note}" if scored_note else ""))
    return out, note


def _scored_folds(args, all_folds, trials):
    """The folds as scored: each validating only the held-out split's trials
    (``--cv-heldout-only``) and/or only ``--actions``, the folds themselves being the
    training's, dealt over every trial; and a note saying which, or ""."""
    from nermo_ros.evaluation import folds

    keep, notes = trials, []
    if args.cv_heldout_only:
        from nermo_ros.data import cmu

        keep = cmu.heldout_split(keep)[1]
        notes.append("held-out split only")
    if args.actions:
        keep = {a: ts for a, ts in keep.items() if a in args.actions}
        notes.append("actions " + ", ".join(sorted(keep)))
    if not notes:
        return all_folds, ""
    scored = [f for f in (folds.only_validating(f, keep) for f in all_folds)
              if any(f.validation.values())]
    return scored, "; ".join(notes)


def _with_blend_grid(found, ckpt, path):
    """``found`` with its headline NeRMo row's constant-velocity blend grid
    (``velocity_blend.blended_rows``)."""
    from nermo_ros.evaluation import methods, report, velocity_blend

    if ckpt.model_config.velocity_blend > 0.0:
        raise ValueError(f"{path} already blends with constant velocity (velocity_blend "
                         f"{ckpt.model_config.velocity_blend:g}); the grid would blend twice. "
                         "Score fold checkpoints trained without a stored blend")
    base = report.headline_method(found)
    cv = methods.baseline_methods()["constant_velocity"]
    return {**{n: m for n, m in found.items() if n != base},
            **velocity_blend.blended_rows(base, found[base], cv)}


def _model_from(models, kind, layout):
    """``--models``: a folder of files named as the shipped ones, or one checkpoint file,
    which then stands for its own kind and skeleton only."""
    from nermo_ros.checkpoint import load_raw, model_path

    if not models.exists():
        raise ValueError(f"--models {models}: no such folder or checkpoint file")
    if models.is_dir():
        return _load(model_path(kind, layout, models), kind, layout)
    raw = load_raw(models)
    if (raw["kind"], raw["layout"]) != (kind, layout):
        print(f"{models} is a {raw['kind']} model of {raw['layout']}; {kind} is left out of "
              f"the {layout} table", file=sys.stderr)
        return None
    return _load(models, kind, layout)


def _load(path, kind, layout):
    from nermo_ros.checkpoint import load_checkpoint

    if not path.is_file():
        print(f"no {kind} checkpoint {path}; {kind} is left out of the {layout} table",
              file=sys.stderr)
        return None
    return load_checkpoint(path, expect_layout=layout, expect_kind=kind)


def _load_any(path, layout):
    """A NeRMo or DCT-MLP checkpoint for ``layout``."""
    from nermo_ros.checkpoint import load_raw, load_checkpoint

    return load_checkpoint(path, expect_layout=layout, expect_kind=load_raw(path)["kind"])
