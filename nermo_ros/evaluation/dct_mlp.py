"""The historical-value baseline of the siMLPe kind: DCT over time, MLPs, trained by the project.

It reads a fixed number of frames at a fixed rate, so it cannot use timestamps: missing
entries are filled with the joint's previous observation (or its next one before the first),
which is what a fixed-rate model must do with dropped frames and hidden joints.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nermo_ros.training.config import DctMlpConfig


def dct_matrix(n: int) -> Tensor:
    """(n, n) orthonormal DCT-II matrix: coefficients = D @ signal."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None]
    d = torch.cos(math.pi * (i + 0.5) * k / n) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


def fill_missing(x: Tensor, mask: Tensor) -> Tensor:
    """(B, T, J, 3) with (B, T, J) mask -> the previous observation where missing; entries
    before a joint's first observation take that first one; never-seen joints stay 0."""
    m = mask > 0.5
    t = x.shape[1]
    filled, last = [], torch.zeros_like(x[:, 0])
    for i in range(t):
        last = torch.where(m[:, i, :, None], x[:, i], last)
        filled.append(last)
    out = torch.stack(filled, dim=1)
    nxt = torch.zeros_like(x[:, 0])
    backs = []
    for i in reversed(range(t)):
        nxt = torch.where(m[:, i, :, None], x[:, i], nxt)
        backs.append(nxt)
    back = torch.stack(backs[::-1], dim=1)
    seen_before = torch.cumsum(m.float(), dim=1) > 0
    return torch.where(seen_before[..., None], out, back)


class MixBlock(nn.Module):
    """siMLPe-style block: a temporal FC across DCT coefficients, a spatial FC across joints."""

    def __init__(self, num_coeffs: int, num_features: int, hidden: int):
        super().__init__()
        self.norm_t = nn.LayerNorm(num_features)
        self.fc_t = nn.Linear(num_coeffs, num_coeffs)
        self.norm_s = nn.LayerNorm(num_features)
        self.fc_s = nn.Sequential(nn.Linear(num_features, hidden), nn.GELU(),
                                  nn.Linear(hidden, num_features))

    def forward(self, h: Tensor) -> Tensor:  # (B, C, F)
        h = h + self.fc_t(self.norm_t(h).transpose(1, 2)).transpose(1, 2)
        return h + self.fc_s(self.norm_s(h))


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
