"""Fixed-rate views of an observed window, shared by the DCT-MLP baseline and NeRMo's encoder.

A window of T frame slots (oldest first) with a joint mask: ``fill_missing`` gives every slot a
value, ``MixBlock`` mixes information across the time slots and across the joint features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


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
    """siMLPe-style block: a linear map along the time axis (DCT coefficients or frame slots),
    then an MLP across the features."""

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
