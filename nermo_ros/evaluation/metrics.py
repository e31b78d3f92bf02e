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


def mpjpe_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Differentiable MPJPE (a small epsilon keeps the gradient finite at zero error)."""
    return torch.sqrt((pred - target).square().sum(dim=-1) + 1e-8).mean()
