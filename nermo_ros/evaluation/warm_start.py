"""Warm start vs cold start: forecast error against adaptation steps on held-out CMU mocap.

A person is followed frame by frame (25 Hz, T observed frames, 25 future frames = 1 s). Cold:
every frame starts from the learned z0. Warm: every frame starts from the previous frame's
adapted z. Times are relative to the newest frame and positions to the window's origin joint,
so the previous z already speaks in the new frame's coordinates: shifting it to the new time
origin is the re-expression of the window, and z itself carries over unchanged. Warm chains
run ``lead_in`` unscored frames first, as a tracked person has been seen before.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nermo_ros.engine.engine import Engine
from nermo_ros.meta import prepare_arrays, restore

FUTURE_FRAMES = 25  # 1 s at 25 Hz, the protocol's horizon
FRAME_PERIOD_S = 0.04


@dataclass(frozen=True)
class StudyRow:
    """MPJPE in millimetres: averaged over the 25 future frames, and at 1000 ms."""

    steps: int
    cold_mm: float
    cold_1s_mm: float
    warm: tuple[tuple[float, float, float], ...]  # (blend, mean mm, at 1 s mm) per blend


def heldout_streams(data_dir: Path, layout: str, window_frames: int, scored_frames: int,
                    lead_in: int, per_trial: int) -> np.ndarray:
    """(S, lead_in + window + scored - 1 + 25, J, 3) metres: stretches of validation trials."""
    from nermo_ros.data import cmu
    from nermo_ros.evaluation import protocol

    skeleton = cmu.load_skeleton(cmu.find_skeleton_json(data_dir))
    _, validation = cmu.heldout_split(cmu.list_trials(data_dir))
    span = lead_in + window_frames + scored_frames - 1 + FUTURE_FRAMES
    streams = []
    for files in validation.values():
        for path in files:
            frames = cmu.read_expmap_file(path)[::cmu.PROTOCOL_DOWNSAMPLE]
            positions = protocol.trial_positions_m(frames, skeleton, layout)
            starts = np.linspace(0, len(positions) - span, per_trial).astype(int)
            streams += [positions[s:s + span] for s in starts if s >= 0]
    if not streams:
        raise ValueError(f"no held-out trial in {data_dir} is {span} frames long")
    return np.stack(streams).astype(np.float32)


def stream_errors(engine: Engine, config, streams: np.ndarray, warm: bool, lead_in: int,
                  scored_frames: int, blend: float = 1.0) -> np.ndarray:
    """(S, scored_frames, 25) per-person, per-frame, per-horizon MPJPE in metres.

    A warm start begins at ``z0 + blend * (z_prev - z0)``: 1 is the previous frame's z itself,
    smaller values pull it back towards the learned prior the model was meta-trained from.
    """
    t = engine.spec.window_frames
    s, j = streams.shape[0], streams.shape[2]
    times_s = np.broadcast_to((np.arange(t) - (t - 1)) * FRAME_PERIOD_S, (s, t))
    horizons_s = np.arange(1, FUTURE_FRAMES + 1) * FRAME_PERIOD_S
    mask = np.ones((s, t, j), dtype=bool)
    z0 = np.broadcast_to(engine.program.params["z0"].numpy(), (s, config.modulation_dim))
    z = z0.copy()
    errors = np.zeros((s, scored_frames, FUTURE_FRAMES))
    first = 0 if warm else lead_in  # a cold start needs no history
    for frame in range(first, lead_in + scored_frames):
        window = streams[:, frame:frame + t]
        future = streams[:, frame + t:frame + t + FUTURE_FRAMES]
        prep = prepare_arrays(times_s, window, mask, horizons_s, config)
        z_init = z0 + blend * (z - z0) if warm else z0
        pred, z_new, _ = engine(prep.obs_t.numpy(), prep.obs_x.numpy(), prep.obs_mask.numpy(),
                                z_init.astype(np.float32), prep.query_t.numpy())
        z = z_new.copy()
        if frame >= lead_in:
            pred_m = restore(pred, prep.origin_m, config)
            errors[:, frame - lead_in] = np.linalg.norm(pred_m - future, axis=-1).mean(axis=-1)
    return errors


def study(params, config, streams: np.ndarray, steps_list, window_frames: int, lead_in: int,
          scored_frames: int, blends=(1.0,), backend: str = "torch") -> list[StudyRow]:
    from nermo_ros.engine.factory import engine_for_program
    from nermo_ros.engine.program import nermo_program

    rows = []
    for steps in steps_list:
        program = nermo_program(params, config, steps, window_frames, FUTURE_FRAMES,
                                buckets=(len(streams),))
        engine = engine_for_program(program, backend, "cpu")
        cold = stream_errors(engine, config, streams, False, lead_in, scored_frames) * 1e3
        warm = []
        for blend in blends:
            err = stream_errors(engine, config, streams, True, lead_in, scored_frames, blend) * 1e3
            warm.append((float(blend), float(err.mean()), float(err[..., -1].mean())))
        rows.append(StudyRow(steps, float(cold.mean()), float(cold[..., -1].mean()), tuple(warm)))
        print(f"  K={steps:>2}: cold {rows[-1].cold_mm:7.1f} mm  warm " +
              "  ".join(f"(blend {b:g}) {m:7.1f} mm" for b, m, _ in warm), flush=True)
    return rows


def recommended_steps(rows: list[StudyRow], reference_steps: int = 10):
    """(steps, blend) of the fewest warm-start steps (best blend) whose error is at most the
    cold-start error at ``reference_steps``; None if there is no such row."""
    reference = {r.steps: r.cold_mm for r in rows}.get(reference_steps)
    if reference is None:
        return None
    good = sorted((r.steps, mm, blend) for r in rows for blend, mm, _ in r.warm if mm <= reference)
    return (good[0][0], good[0][2]) if good else None


def markdown(rows: list[StudyRow]) -> str:
    blends = [b for b, _, _ in rows[0].warm]
    head = ["K", "cold, mean 0-1 s", "cold at 1 s"]
    for b in blends:
        head += [f"warm (blend {b:g}), mean 0-1 s", f"warm (blend {b:g}) at 1 s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in rows:
        cells = [str(r.steps), f"{r.cold_mm:.1f}", f"{r.cold_1s_mm:.1f}"]
        for _, mean_mm, at_1s in r.warm:
            cells += [f"{mean_mm:.1f}", f"{at_1s:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_study(params, config, source: str, args: argparse.Namespace) -> int:
    from nermo_ros.data import cmu

    data_dir = cmu.default_data_dir()
    try:
        streams = heldout_streams(data_dir, config.layout, args.window_frames, args.study_frames,
                                  args.study_lead_in, args.study_per_trial)
    except FileNotFoundError as error:
        print(f"nermo-ros bench --warm-start-study: {error}")
        return 2
    print(f"model: {source}; {len(streams)} held-out streams from {data_dir}, "
          f"T={args.window_frames}, {args.study_lead_in} lead-in + {args.study_frames} scored frames")
    rows = study(params, config, streams, args.study_steps, args.window_frames,
                 args.study_lead_in, args.study_frames, args.study_blends)
    print("\nMPJPE in mm on held-out CMU streams\n")
    print(markdown(rows))
    best = recommended_steps(rows)
    verdict = ("none: no warm start matched a 10-step cold start" if best is None else
               f"K={best[0]} (blend {best[1]:g})")
    print(f"\nfewest warm-start steps at least as accurate as a 10-step cold start: {verdict}")
    return 0
