"""The forecasts the coverage study calibrates and scores: the held-out trials run through the
real NeRMo predictor as the node runs it, with what each forecast knew and how wrong it was.

Data: the held-out split (``cmu.heldout_split``: the lowest-numbered trial of each action,
which the shipped model never trained on), at 25 Hz. Each trial's root-relative body (the form
the model trained on) is carried along the trial's own root path, so the predictor works as in
the node: the pose about the root by NeRMo, the root's travel by constant velocity.

Forecasts: the real ``NermoPredictor``, frame after frame, each stretch of ``CHUNK_FRAMES``
frames one track (so every forecast but a stretch's first warm-starts from the previous frame,
as in the node), at the 25 future frames (0.04 to 1.0 s). Every window is forecast three times:
complete, and with 20 % and 40 % of the (frame, joint) entries hidden at random (``MASKS``);
with a noise model, a fourth time through the measured camera noise (``PERCEPTION_NOISE``:
MediaPipe's jitter, glitches, left-right swaps and drops). The truth is always the clean trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nermo_ros.data import cmu
from nermo_ros.evaluation import protocol
from nermo_ros.predictors.base import WindowBatch
from nermo_ros.skeleton import LAYOUT_ID

CHUNK_FRAMES = 150  # frames per track: 6 s at 25 Hz
MASKS = {"complete": 0.0, "missing_joints_20": 0.2, "missing_joints_40": 0.4}
MASK_SEED = 20261129
# The measured camera noise (config/perception_noise.yaml) as a fourth setting.
PERCEPTION_NOISE = "perception_noise"
ROOT = 0  # the canonical pelvis, the model's origin joint


@dataclass(frozen=True)
class Trial:
    name: str
    action: str
    positions_m: np.ndarray  # (T, J, 3): the body about its root, carried along the root path


def load_trial(path: Path, skeleton: cmu.CmuSkeleton) -> Trial:
    """A trial at 25 Hz, metric: the model's root-relative body plus the root's own path."""
    frames = cmu.read_expmap_file(path)[::cmu.PROTOCOL_DOWNSAMPLE]
    body_m = protocol.trial_positions_m(frames, skeleton, LAYOUT_ID)
    root_path_m = frames[:, :3] * cmu.METRIC_UNIT_MM / 1000.0 @ cmu.CMU_TO_BODY_AXES.T
    name = path.name.split(".")[0]
    return Trial(name, path.parent.name, body_m + (root_path_m - root_path_m[0])[:, None])


@dataclass
class Forecasts:
    """Per forecast (N) of every trial and mask: what is known and how wrong it was."""

    trial: np.ndarray  # (N,) trial name
    action: np.ndarray  # (N,)
    mask: np.ndarray  # (N,) MASKS key
    features: np.ndarray  # (N, J, K)
    seen: np.ndarray  # (N, J)
    pose_error_m: np.ndarray  # (N, G, J) the pose about the root
    error_m: np.ndarray  # (N, G, J) the published position (pose plus travel)
    travel_error_m: np.ndarray  # (N, G)
    travel_rms_m: np.ndarray  # (N, G)
    sigma_m: np.ndarray  # (N, G, J) the published per-axis sigma

    def select(self, rows: np.ndarray) -> "Forecasts":
        return Forecasts(**{k: v[rows] for k, v in vars(self).items()})


def horizons_s() -> np.ndarray:
    return np.arange(1, protocol.OUTPUT_FRAMES + 1) * protocol.FRAME_PERIOD_S


def observed_trials(trials: list[Trial], setting: str, noise=None
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per trial, what the predictor sees: (T, J, 3) positions and (T, J) joints seen. A mask
    setting hides that share of (frame, joint) entries at random; ``PERCEPTION_NOISE`` runs the
    whole trial through the measured camera noise (``perception_noise.corrupt``: jitter,
    glitches, left-right swaps, dropped joints and frames, in time order)."""
    if setting == PERCEPTION_NOISE:
        import torch

        from nermo_ros.evaluation.perception_noise import corrupt

        gen = torch.Generator().manual_seed(MASK_SEED)
        out = []
        for trial in trials:
            seen = corrupt(torch.from_numpy(trial.positions_m[None]),
                           torch.tensor([protocol.FRAME_PERIOD_S], dtype=torch.float64), noise,
                           gen)
            mask = seen.joint_mask.numpy()[0] & seen.frame_valid.numpy()[0][:, None]
            out.append((seen.positions_m.numpy()[0], mask))
        return out
    rng = np.random.default_rng(MASK_SEED + list(MASKS).index(setting))
    return [(t.positions_m, rng.random(t.positions_m.shape[:2]) >= MASKS[setting])
            for t in trials]


def forecast_trials(predictor, trials: list[Trial], mask_name: str, noise=None) -> Forecasts:
    """Run ``predictor`` (``NermoPredictor``) over every trial's frames, all stretches at once,
    as ``mask_name`` (a MASKS key or PERCEPTION_NOISE, with ``noise``) shows them; the truth
    is always the clean trial."""
    t_in, t_out = protocol.INPUT_FRAMES, protocol.OUTPUT_FRAMES
    grid = horizons_s()
    observed = observed_trials(trials, mask_name, noise)
    # (trial, first forecast frame, last + 1) of every stretch
    stretches = [(k, first, min(first + CHUNK_FRAMES, len(t.positions_m) - t_out))
                 for k, t in enumerate(trials)
                 for first in range(t_in - 1, len(t.positions_m) - t_out, CHUNK_FRAMES)]
    times = (np.arange(t_in) - (t_in - 1)) * protocol.FRAME_PERIOD_S
    parts: dict[str, list] = {k: [] for k in Forecasts.__dataclass_fields__}
    for step in range(CHUNK_FRAMES):
        live = [(s, k, first + step) for s, (k, first, end) in enumerate(stretches)
                if first + step < end]
        if not live:
            break
        window = np.stack([observed[k][0][f - t_in + 1:f + 1] for _, k, f in live])
        mask = np.stack([observed[k][1][f - t_in + 1:f + 1] for _, k, f in live])
        batch = WindowBatch(np.broadcast_to(times, mask.shape[:2]).copy(),
                            np.where(mask[..., None], window, np.nan), mask, mask.any(axis=2),
                            [f"{mask_name}/{s}" for s, _, _ in live])
        out = predictor.forecast(batch, grid)
        future = np.stack([trials[k].positions_m[f + 1:f + 1 + t_out] for _, k, f in live])
        root = future[:, :, ROOT]
        pose = out.positions - out.travel_m[:, :, None]
        parts["pose_error_m"].append(np.linalg.norm(pose - (future - root[:, :, None]), axis=-1))
        parts["error_m"].append(np.linalg.norm(out.positions - future, axis=-1))
        parts["travel_error_m"].append(np.linalg.norm(out.travel_m - root, axis=-1))
        parts["travel_rms_m"].append(out.travel_rms_m)
        parts["sigma_m"].append(out.uncertainty_m)
        parts["features"].append(out.features)
        parts["seen"].append(out.seen)
        parts["trial"].append(np.array([trials[k].name for _, k, _ in live]))
        parts["action"].append(np.array([trials[k].action for _, k, _ in live]))
        parts["mask"].append(np.full(len(live), mask_name))
    return Forecasts(**{k: np.concatenate(v) for k, v in parts.items()})


def concatenate(parts: list[Forecasts]) -> Forecasts:
    return Forecasts(**{k: np.concatenate([getattr(p, k) for p in parts])
                        for k in Forecasts.__dataclass_fields__})
