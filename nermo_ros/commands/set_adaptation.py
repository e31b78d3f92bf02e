"""``nermo-ros set_adaptation``: store a NeRMo checkpoint's test-time settings (the
``ModelConfig.ADAPTATION_FIELDS``, which change no weight) in a copy of it, with a note of how
they were chosen, so the node, the engines and ``evaluate`` all run the model as chosen."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="the NeRMo checkpoint to read")
    parser.add_argument("--out", required=True, help="where to write the copy (may be the "
                        "same file: it is replaced atomically)")
    parser.add_argument("--velocity-blend", type=float, default=None, metavar="SHARE",
                        help="constant-velocity share at horizon 0 (ModelConfig.velocity_blend; "
                        "0: none), e.g. the all-folds choice of `evaluate --velocity-blend-grid`")
    parser.add_argument("--velocity-blend-time-s", type=float, default=None, metavar="SECONDS",
                        help="time constant of that share's decay")
    parser.add_argument("--note", default="", help="how the settings were chosen (kept in the "
                        "checkpoint as adaptation_note)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from nermo_ros.checkpoint import load_raw, save_checkpoint
    from nermo_ros.model import ModelConfig

    changes = {k: v for k, v in (("velocity_blend", args.velocity_blend),
                                 ("velocity_blend_time_s", args.velocity_blend_time_s))
               if v is not None}
    try:
        if not changes:
            raise ValueError("nothing to set: give --velocity-blend and/or "
                             "--velocity-blend-time-s")
        payload = load_raw(args.checkpoint)
        if payload["kind"] != "nermo" or payload["model_config"] is None:
            raise ValueError(f"{args.checkpoint} is a {payload['kind']!r} checkpoint; only NeRMo "
                             "has test-time settings")
        config = replace(ModelConfig.from_dict(payload["model_config"]), **changes)
    except (ValueError, FileNotFoundError) as error:
        print(f"set_adaptation: {error}", file=sys.stderr)
        return 2
    train_config = dict(payload["train_config"])
    if args.note:
        train_config["adaptation_note"] = args.note
    save_checkpoint(args.out, kind="nermo", layout=payload["layout"],
                    num_joints=payload["num_joints"], params=payload["params"],
                    train_config=train_config, model_config=config,
                    validation=payload["validation"], default_steps=payload["default_steps"],
                    obs_window_s=payload["obs_window_s"], step=payload["step"],
                    training_state=payload.get("training_state"))
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v:g}" for k, v in changes.items()))
    return 0
