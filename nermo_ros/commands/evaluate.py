"""`nermo-ros evaluate`: MPJPE (mm) at 80..1000 ms of NeRMo and the baselines, on the same
protocol samples, for the benchmark's 25-joint skeleton and the project's canonical one.
"""

from __future__ import annotations

import argparse
import sys

LAYOUTS = ("cmu_protocol25", "nermo_body17")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="", help="folder laid out like the train folder "
                        "(<action>/<action>_<n>.txt[.gz]); every trial in it is evaluated. "
                        "Default: the held-out split (one trial per action) of $NERMO_CMU_DIR")
    parser.add_argument("--skeleton", default="", help="skeleton.json (default: found next to "
                        "--data, else in the default data folder)")
    parser.add_argument("--layout", choices=LAYOUTS + ("all",), default="all")
    parser.add_argument("--models", default="", help="folder with nermo_body17.pt, "
                        "nermo_cmu_protocol25.pt, dct_mlp_body17.pt, dct_mlp_cmu_protocol25.pt "
                        "(default: the shipped models/)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 3, 10],
                        help="NeRMo adaptation steps to compare")
    parser.add_argument("--settings", nargs="+", default=None,
                        help="subset of: complete missing_joints_20 missing_joints_40 missing_frames_3of9")
    parser.add_argument("--out", default="runs/evaluate", help="folder for results.json and mpjpe.png")


def _trials(args):
    from pathlib import Path

    from nermo_ros.data import cmu

    if args.data:
        trials = cmu.list_trials(args.data)
        source = f"all trials under {args.data}"
    else:
        _, trials = cmu.heldout_split(cmu.list_trials(cmu.default_data_dir()))
        source = f"held-out split of {cmu.default_data_dir()}"
    if args.skeleton:
        skeleton_path = Path(args.skeleton)
    else:
        try:
            skeleton_path = cmu.find_skeleton_json(args.data or cmu.default_data_dir())
        except FileNotFoundError:
            skeleton_path = cmu.find_skeleton_json(cmu.default_data_dir())
    return trials, cmu.load_skeleton(skeleton_path), source


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nermo_ros.checkpoint import MODELS_DIR, load_checkpoint, model_path
    from nermo_ros.evaluation import benchmark, protocol, report

    settings = benchmark.SETTINGS
    if args.settings:
        known = {s.name: s for s in settings}
        unknown = [s for s in args.settings if s not in known]
        if unknown:
            print(f"unknown settings {unknown}; choose from {sorted(known)}", file=sys.stderr)
            return 2
        settings = tuple(known[s] for s in args.settings)
    trials, skeleton, source = _trials(args)
    models = Path(args.models) if args.models else MODELS_DIR
    layouts = LAYOUTS if args.layout == "all" else (args.layout,)
    results: dict = {"data": source, "trials": {a: [p.name for p in fs] for a, fs in trials.items()}}
    for layout in layouts:
        nermo = _load(model_path("nermo", layout, models), "nermo", layout, load_checkpoint)
        dct = _load(model_path("dct_mlp", layout, models), "dct_mlp", layout, load_checkpoint)
        samples = benchmark.load_samples(trials, skeleton, layout)
        methods = benchmark.all_methods(nermo, dct, tuple(args.steps))
        forecasts = benchmark.predict_all(samples, methods, settings)
        per_setting = benchmark.score(samples, forecasts)
        results[layout] = {"samples": len(samples.actions), "settings": per_setting,
                           "nermo_model_id": nermo.model_id if nermo else None,
                           "dct_mlp_model_id": dct.model_id if dct else None}
        for setting, per_method in per_setting.items():
            print(report.table(per_method, title=f"### {layout}, {setting} "
                               f"({len(samples.actions)} samples, MPJPE mm, average over actions)"))
            print()
        if layout == protocol.PROTOCOL_LAYOUT_ID:
            first = settings[0].name
            public = benchmark.score(samples, {first: forecasts[first]},
                                     metric=protocol.public_code_mpjpe_per_frame)
            results[layout]["public_code_average"] = public
            print(report.table(public[first], title=f"### {layout}, {first}, "
                               "averaged over all 38 joints as the public code does "
                               "(the figure papers report)"))
            print()
        best = f"nermo_{max(args.steps)}step" if nermo else "constant_velocity"
        print(f"### {layout}, complete, {best} per action\n")
        print(report.per_action_table(per_setting[settings[0].name], best))
        print()
    out = Path(args.out)
    report.write_json(out / "results.json", results)
    report.plot(out / "mpjpe.png", results)
    print(f"wrote {out / 'results.json'} and {out / 'mpjpe.png'}", file=sys.stderr)
    return 0


def _load(path, kind, layout, load_checkpoint):
    if not path.is_file():
        print(f"no {kind} checkpoint {path}; {kind} is left out of the {layout} table",
              file=sys.stderr)
        return None
    return load_checkpoint(path, expect_layout=layout, expect_kind=kind)
