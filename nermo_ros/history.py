"""Fixed-rate views of an observed window, shared by the DCT-MLP baseline and NeRMo's encoder.

A window of T frame slots (oldest first) with a joint mask: ``fill_missing`` gives every slot a
value, ``MixBlock`` mixes information across the time slots and across the joint features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def fill_missing(x: Tensor, mask: Tensor) -> Tensor:
    """(B, T, J, 3) with (B, T, J) mask -> the previous observation where missing; entries
    before a joint's first observation take that first one; never-seen joints stay 0.

    Written as one selection matrix, one product and one sum instead of a loop over the slots:
    the compiled adapt-and-predict graph then holds ~10 operators here instead of ~100. A joint's
    running count of sightings picks the sighting whose count equals it (the newest so far),
    or the first sighting while the count is still 0.
    """
    m = mask > 0.5
    seen = m.to(x.dtype)
    x = torch.where(m.unsqueeze(-1), x, torch.zeros_like(x))  # hidden values, even NaN, never mix in
    count = torch.cumsum(seen, dim=1)  # (B, T, J) sightings up to each slot
    wanted = torch.clamp(count, min=1.0)
    pick = (count.unsqueeze(1) == wanted.unsqueeze(2)).to(x.dtype) * seen.unsqueeze(1)  # (B, T, S, J)
    return (pick.unsqueeze(-1) * x.unsqueeze(1)).sum(dim=2)  # one product, one sum: fusable


class MixBlock(nn.Module):
    """siMLPe-style block: a linear map along the time axis (DCT coefficients or frame slots),
    then an MLP across the features; ``dropout``: ``residual_dropout`` on both branches."""

    def __init__(self, num_coeffs: int, num_features: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = dropout
        self.norm_t = nn.LayerNorm(num_features)
        self.fc_t = nn.Linear(num_coeffs, num_coeffs)
        self.norm_s = nn.LayerNorm(num_features)
        self.fc_s = nn.Sequential(nn.Linear(num_features, hidden), nn.GELU(),
                                  nn.Linear(hidden, num_features))

    def forward(self, h: Tensor) -> Tensor:  # (B, C, F)
        h = h + residual_dropout(self.fc_t(self.norm_t(h).transpose(1, 2)).transpose(1, 2),
                                 self.dropout)
        return h + residual_dropout(self.fc_s(self.norm_s(h)), self.dropout)


def residual_dropout(branch: Tensor, p: float) -> Tensor:
    """``branch`` with a share p of its entries dropped (training only): at p = 0 the branch
    itself, so inference and the compiled graphs hold no dropout operator."""
    return F.dropout(branch, p) if p > 0.0 else branch
