"""Mean per-joint position error, the one accuracy metric of the benchmark and of training;
and how much a forecast reshapes the body it was given."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def mpjpe_per_sample(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(S, H, J, 3) x2 -> (S, H) mean Euclidean joint error per sample and future frame."""
    return np.linalg.norm(np.asarray(pred) - np.asarray(target), axis=-1).mean(axis=2)


def mpjpe_per_frame(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(S, H, J, 3) x2 -> (H,) mean Euclidean joint error per future frame (input units)."""
    return mpjpe_per_sample(pred, target).mean(axis=0)


def mpjpe_loss(pred: Tensor, target: Tensor, frame_weight: Tensor | None = None) -> Tensor:
    """Differentiable MPJPE of (B, N, J, 3) positions (a small epsilon keeps the gradient
    finite at zero error); ``frame_weight`` (B, N), mean 1, weighs the frames."""
    err = torch.sqrt((pred - target).square().sum(dim=-1) + 1e-8)
    if frame_weight is None:
        return err.mean()
    return (err * frame_weight.unsqueeze(-1)).mean()


def horizon_weights(future_t: Tensor, power: float, floor: float = 0.0) -> Tensor:
    """(B, Q) weights of future frames at times ``future_t`` (> 0): (t / t_max) ** -power,
    scaled to mean 1 per window, plus ``floor``, then scaled to mean 1 again. Errors grow with
    the horizon, so a plain mean lets the far frames shape the model; a positive power gives
    the near ones a larger say, and the floor keeps a share for the far ones (at power 2 the
    1 s frame alone weighs 0.025)."""
    ratio = torch.clamp(future_t / future_t.amax(dim=1, keepdim=True), min=1e-3)
    w = ratio.pow(-power)
    w = w / w.mean(dim=1, keepdim=True) + floor
    return w / w.mean(dim=1, keepdim=True)


def bone_length_change(observed: np.ndarray, seen: np.ndarray, forecast: np.ndarray,
                       bones: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Relative change of each bone's length from the observed pose (N, J, 3) to its forecast
    (N, J, 3), NaN where ``seen`` (N, J) lacks either end. A body keeps its proportions, so a
    forecast that changes them is implausible whatever the reference it is scored against."""
    parent, child = (list(side) for side in zip(*bones))
    before = np.linalg.norm(observed[:, child] - observed[:, parent], axis=-1)
    after = np.linalg.norm(forecast[:, child] - forecast[:, parent], axis=-1)
    valid = seen[:, child] & seen[:, parent] & (before > 1e-6)
    return np.where(valid, after / np.where(valid, before, 1.0) - 1.0, np.nan)
