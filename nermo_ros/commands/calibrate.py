"""`nermo-ros calibrate`: fit the radius calibration of a NeRMo checkpoint on the held-out CMU
trials, report its coverage on trials it was not fitted on, and write the calibration beside
the checkpoint (``<checkpoint>.calibration.json``), one per number of adaptation steps, made
with the mirror-average choice the node runs (or the one given). The file keeps the model's
calibrations of other choices, so one file serves both settings of ``mirror_average``.

The study itself is ``nermo_ros.evaluation.coverage``; this verb loads, runs and writes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nermo_ros.forecasting.report_hold import DEFAULT_HOLD_JITTER_M, DEFAULT_HOLD_TIME_S
from nermo_ros.predictors.base import DEFAULT_MIRROR_AVERAGE
from nermo_ros.predictors.levelling import DEFAULT_LEVEL_BODY

# The horizons the table shows: the predictor node's default horizons_s.
TABLE_HORIZONS_S = (0.08, 0.16, 0.24, 0.32, 0.4, 0.56, 0.72, 0.88, 1.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="", help="CMU mocap folder (default: $NERMO_CMU_DIR "
                        "or the shared data folder); its held-out split is used")
    parser.add_argument("--checkpoint", default="", help="NeRMo checkpoint (default: the "
                        "shipped models/nermo_body17.pt)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 3],
                        help="adaptation steps to calibrate (the node's default is 1, offline "
                        "use takes the checkpoint's default, 3)")
    parser.add_argument("--mirror-average", action=argparse.BooleanOptionalAction,
                        default=DEFAULT_MIRROR_AVERAGE, help="calibrate mirror-averaged "
                        "forecasts (the node's mirror_average must match; default: the node's "
                        "default)")
    parser.add_argument("--hold-time-s", type=float, default=DEFAULT_HOLD_TIME_S,
                        help="the node's hold_time_s to calibrate (0: no hold; default: the "
                        "node's default)")
    parser.add_argument("--hold-jitter-m", type=float, default=DEFAULT_HOLD_JITTER_M,
                        help="the node's hold_jitter_m to calibrate (default: the node's)")
    parser.add_argument("--level-body", action=argparse.BooleanOptionalAction,
                        default=DEFAULT_LEVEL_BODY, help="calibrate forecasts made with the "
                        "body stood upright (the node's level_body must match; default: the "
                        "node's default)")
    parser.add_argument("--coverage", type=float, default=0.9,
                        help="the coverage the report checks (the calibration holds 0.5-0.99)")
    parser.add_argument("--noise", default="config/perception_noise.yaml",
                        help="measured camera noise: a fourth setting to calibrate and score "
                        "on; empty: mocap only")
    parser.add_argument("--out", default="runs/calibrate", help="folder for coverage.json and "
                        "coverage.md")
    parser.add_argument("--no-sidecar", action="store_true", help="report only; do not write "
                        "the calibration beside the checkpoint")
    parser.add_argument("--for", dest="for_checkpoint", default="", metavar="CHECKPOINT",
                        help="write the calibration for this checkpoint instead: a model of "
                        "the same recipe trained on every trial, which leaves no trial to "
                        "calibrate on; --checkpoint is then its twin trained without the "
                        "held-out trials, and the coverage report is the twin's")


def run(args) -> int:
    from nermo_ros.checkpoint import SHIPPED_DEFAULT, load_checkpoint
    from nermo_ros.data import cmu
    from nermo_ros.evaluation import coverage as study
    from nermo_ros.evaluation import coverage_forecasts as runs
    from nermo_ros.forecasting.calibration_file import (load_calibrations, merged,
                                                        save_calibrations, sidecar_path)
    from nermo_ros.predictors.nermo import NermoPredictor

    root = Path(args.data) if args.data else cmu.default_data_dir()
    checkpoint = Path(args.checkpoint) if args.checkpoint else SHIPPED_DEFAULT
    ckpt = load_checkpoint(checkpoint)
    trials_by_action = cmu.heldout_split(cmu.list_trials(root))[1]
    skeleton = cmu.load_skeleton(cmu.find_skeleton_json(root))
    files = [p for fs in trials_by_action.values() for p in fs]
    trained_on = ckpt.train_config.get("data", {}) or {}
    if trained_on.get("split") == "all":
        print(f"refusing: {checkpoint} trained on every trial (data.split: all), so no trial is "
              "held out to calibrate on", file=sys.stderr)
        return 2
    target, target_id = checkpoint, ckpt.model_id
    if args.for_checkpoint:
        target = Path(args.for_checkpoint)
        shipping = load_checkpoint(target)
        problem = twin_problem(ckpt.train_config, shipping.train_config)
        if problem:
            print(f"refusing: {checkpoint} cannot calibrate {target}: {problem}", file=sys.stderr)
            return 2
        target_id = shipping.model_id
    trials = [runs.load_trial(p, skeleton) for p in files]
    noise = None
    if args.noise:
        from nermo_ros.evaluation.perception_noise import load_noise

        noise = load_noise(args.noise)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report, calibrations = {}, []
    for steps in args.steps:
        started = time.perf_counter()
        predictor = NermoPredictor(checkpoint, backend="torch", num_adapt_steps=steps,
                                   calibration=None, mirror_average=args.mirror_average,
                                   hold_time_s=args.hold_time_s,
                                   hold_jitter_m=args.hold_jitter_m,
                                   level_body=args.level_body)
        settings = list(runs.MASKS) + ([runs.PERCEPTION_NOISE] if noise is not None else [])
        forecasts = runs.concatenate([runs.forecast_trials(predictor, trials, setting, noise)
                                       for setting in settings])
        tables = study.coverage_tables(forecasts, args.coverage)
        info = {"num_adapt_steps": steps, "mirror_average": args.mirror_average,
                "hold_time_s": predictor.hold_time_s, "hold_jitter_m": predictor.hold_jitter_m,
                "level_body": args.level_body,
                "trials": sorted(p.name for p in files),
                "settings": settings, "noise": args.noise,
                "forecasts": int(len(forecasts.trial)),
                "frame_period_s": float(runs.protocol.FRAME_PERIOD_S),
                "history_frames": predictor.history_frames,
                "method": "normalised split conformal; see nermo_ros/evaluation/coverage.py"}
        if target_id != ckpt.model_id:
            info["fitted_on_model"] = ckpt.model_id  # the twin that never saw these trials
        calibrations.append(study.calibrate(forecasts, target_id, info))
        report[f"steps_{steps}"] = tables
        print(markdown(tables, steps))
        print(f"({steps} steps: {len(forecasts.trial)} forecasts in "
              f"{time.perf_counter() - started:.0f} s)")
    (out / "coverage.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "coverage.md").write_text("\n\n".join(markdown(t, int(k.split("_")[1]))
                                                 for k, t in report.items()) + "\n")
    if not args.no_sidecar:
        path = sidecar_path(target)
        kept = []
        if path.is_file():
            try:
                kept = list(load_calibrations(path, target_id))
            except ValueError as error:  # another model's or unreadable: replaced
                print(f"replacing {path}: {error}", file=sys.stderr)
        calibrations = merged(tuple(kept), calibrations)
        save_calibrations(path, target_id, calibrations)
        print(f"wrote {path} ({len(calibrations)} calibrations: "
              + ", ".join(f"{c.num_adapt_steps} steps "
                          f"{'mirror-averaged' if c.mirror_average else 'plain'}"
                          f"{f', hold {c.report_hold[0]:g} s' if c.report_hold[0] else ''}"
                          f"{', levelled' if c.level_body else ''}"
                          for c in calibrations) + ")")
    return 0


# How long a run went, not what it learned: a stage that ran by time on a shared GPU and its
# twin re-made by steps on a free one share the recipe.
RUN_LENGTH_KEYS = {"optim": ("steps", "max_minutes")}


def twin_problem(fitted: dict, shipping: dict) -> str:
    """Why ``fitted``'s calibration would not stand for ``shipping`` (empty: it does): the
    shipping model must be the same recipe (model, windows, optimisation, meta-learning)
    trained on every trial, and the fitted one must not have trained on the held-out trials.
    A setting one config lacks counts as its default (a config saved before the setting
    existed), and the run's length does not count (``RUN_LENGTH_KEYS``)."""
    if (shipping.get("data") or {}).get("split") != "all":
        return "--for is for a model trained on every trial (data.split: all)"
    if (fitted.get("data") or {}).get("split", "heldout") != "heldout":
        return "--checkpoint must be trained without the held-out trials (data.split: heldout)"
    differing = sorted(k for k in ("kind", "layout", "model", "window", "optim", "meta")
                       if recipe_part(fitted, k) != recipe_part(shipping, k))
    return f"not the same recipe: {', '.join(differing)} differ" if differing else ""


def recipe_part(config: dict, section: str):
    """``config[section]`` with the defaults of the settings it lacks, less the run length."""
    from dataclasses import MISSING, fields

    from nermo_ros.training.config import TrainConfig

    value = config.get(section)
    kinds = {f.name: f for f in fields(TrainConfig)}
    if not isinstance(value, dict) or section not in kinds:
        return value
    factory = kinds[section].default_factory
    defaults = {} if factory is MISSING else {
        f.name: (f.default if f.default is not MISSING else
                 f.default_factory() if f.default_factory is not MISSING else None)
        for f in fields(factory)}
    merged = {**defaults, **value}
    for key in RUN_LENGTH_KEYS.get(section, ()):
        merged.pop(key, None)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in merged.items()}


def markdown(tables: dict, steps: int) -> str:
    """Per horizon, for each protocol: the calibrated radius against the static table."""
    horizons = [round(h, 3) for h in tables["horizons_s"]]
    blocks = [f"NeRMo, {steps} adaptation step(s), nominal coverage {tables['coverage']:.2f}, "
              f"{tables['forecasts']} forecasts of {len(tables['trials'])} held-out trials "
              f"(pooled over the settings: {', '.join(tables['settings'])})"]
    for name in ("leave_one_trial_out", "halves"):
        table = tables[name]
        pooled = table["pooled"]
        blocks += ["", f"{name.replace('_', ' ')}: each trial scored with the calibration of "
                   + ("the other seven" if name == "leave_one_trial_out" else
                      f"the other half ({' | '.join(', '.join(g) for g in table['groups'])})"),
                   "",
                   "| horizon | coverage | mean radius | static: coverage | static: mean radius "
                   "| static at the same coverage: mean radius |",
                   "|---|---|---|---|---|---|"]
        c, s, m = pooled["calibrated"], pooled["static"], pooled["static_at_calibrated_coverage"]
        for h in TABLE_HORIZONS_S:
            k = horizons.index(round(h, 3))
            blocks.append(f"| {1000 * h:.0f} ms | {100 * c['coverage'][k]:.1f} % | "
                          f"{1000 * c['mean_radius_m'][k]:.0f} mm | {100 * s['coverage'][k]:.1f} % "
                          f"| {1000 * s['mean_radius_m'][k]:.0f} mm | "
                          f"{1000 * m['mean_radius_m'][k]:.0f} mm |")
        blocks += ["", f"Calibrated coverage at all 25 horizons (40 ms steps): "
                   f"{100 * min(c['coverage']):.1f} % to {100 * max(c['coverage']):.1f} %.",
                   "", "By setting: coverage / mean radius at 80 ms, 400 ms, 1 s", ""]
        for name_, rows in table["by_mask"].items():
            r = rows["calibrated"]
            cells = [(100 * r["coverage"][horizons.index(h)],
                      1000 * r["mean_radius_m"][horizons.index(h)]) for h in (0.08, 0.4, 1.0)]
            blocks.append(f"- {name_}: " + ", ".join(f"{c_:.1f} % / {m_:.0f} mm"
                                                     for c_, m_ in cells))
    return "\n".join(blocks)
