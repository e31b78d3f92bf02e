"""Mean per-joint position error: the one metric of the benchmark and of training."""

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

