"""The historical-value baseline of the siMLPe kind: DCT over time, MLPs, trained by the project.

It reads a fixed number of frames at a fixed rate, so it cannot use timestamps: missing
entries are filled with the joint's previous observation (or its next one before the first),
which is what a fixed-rate model must do with dropped frames and hidden joints.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nermo_ros.history import MixBlock, fill_missing
from nermo_ros.training.config import DctMlpConfig


def dct_matrix(n: int) -> Tensor:
    """(n, n) orthonormal DCT-II matrix: coefficients = D @ signal."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None]
    d = torch.cos(math.pi * (i + 0.5) * k / n) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


class DctMlp(nn.Module):
    """(B, T_in, J, 3) filled window relative to its last frame -> (B, T_out, J, 3)."""

    def __init__(self, num_joints: int, in_frames: int, out_frames: int, cfg: DctMlpConfig):
        super().__init__()
        f = num_joints * 3
        self.register_buffer("dct", dct_matrix(in_frames))
        self.blocks = nn.Sequential(*(MixBlock(in_frames, f, cfg.hidden) for _ in range(cfg.width_blocks)))
        self.to_frames = nn.Linear(in_frames, out_frames)  # learned inverse transform to the future
        nn.init.zeros_(self.to_frames.weight)
        nn.init.zeros_(self.to_frames.bias)

    def forward(self, obs_x: Tensor, obs_mask: Tensor) -> Tensor:
        b, t, j, _ = obs_x.shape
        x = fill_missing(obs_x, obs_mask)
        last = x[:, -1:]
        h = torch.einsum("kt,btf->bkf", self.dct, (x - last).reshape(b, t, j * 3))
        h = self.blocks(h)
        out = self.to_frames(h.transpose(1, 2)).transpose(1, 2)  # (B, T_out, F)
        return out.reshape(b, -1, j, 3) + last
