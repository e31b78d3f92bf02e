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
    steps: int
    cold_mm: float  # MPJPE averaged over the 25 future frames, millimetres
    warm_mm: float
    cold_1s_mm: float  # at 1000 ms
    warm_1s_mm: float


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
                  scored_frames: int) -> np.ndarray:
    """(S, scored_frames, 25) per-person, per-frame, per-horizon MPJPE in metres."""
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
        pred, z_new, _ = engine(prep.obs_t.numpy(), prep.obs_x.numpy(), prep.obs_mask.numpy(),
                                z if warm else z0, prep.query_t.numpy())
        z = z_new.copy()
        if frame >= lead_in:
            pred_m = restore(pred, prep.origin_m, config)
            errors[:, frame - lead_in] = np.linalg.norm(pred_m - future, axis=-1).mean(axis=-1)
    return errors


def study(params, config, streams: np.ndarray, steps_list, window_frames: int, lead_in: int,
          scored_frames: int, backend: str = "torch") -> list[StudyRow]:
    from nermo_ros.engine.factory import engine_for_program
    from nermo_ros.engine.program import nermo_program

    rows = []
    for steps in steps_list:
        program = nermo_program(params, config, steps, window_frames, FUTURE_FRAMES,
                                buckets=(len(streams),))
        engine = engine_for_program(program, backend, "cpu")
        cold = stream_errors(engine, config, streams, False, lead_in, scored_frames) * 1e3
        warm = stream_errors(engine, config, streams, True, lead_in, scored_frames) * 1e3
        rows.append(StudyRow(steps, float(cold.mean()), float(warm.mean()),
                             float(cold[..., -1].mean()), float(warm[..., -1].mean())))
        print(f"  K={steps:>2}: cold {rows[-1].cold_mm:7.1f} mm  warm {rows[-1].warm_mm:7.1f} mm",
              flush=True)
    return rows


def recommended_steps(rows: list[StudyRow], reference_steps: int = 10) -> int | None:
    """Fewest steps whose warm-start error is at most the cold-start error at ``reference_steps``."""
    reference = {r.steps: r.cold_mm for r in rows}.get(reference_steps)
    if reference is None:
        return None
    good = [r.steps for r in rows if r.warm_mm <= reference]
    return min(good) if good else None


def markdown(rows: list[StudyRow]) -> str:
    lines = ["| K | cold start, mean 0-1 s (mm) | warm start, mean 0-1 s (mm) | cold at 1 s (mm) | "
             "warm at 1 s (mm) |", "|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.steps} | {r.cold_mm:.1f} | {r.warm_mm:.1f} | {r.cold_1s_mm:.1f} | "
                     f"{r.warm_1s_mm:.1f} |")
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
                 args.study_lead_in, args.study_frames)
    print()
    print(markdown(rows))
    best = recommended_steps(rows)
    print(f"\nfewest warm-start steps at least as accurate as a 10-step cold start: {best}")
    return 0
