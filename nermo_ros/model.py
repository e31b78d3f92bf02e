"""NeRMo: human motion as a continuous function of time, ``f(t, z) -> pose``.

The network answers at any query time, so irregular or dropped frames need no resampling.
Its parameters split in two: generic ones (this module's weights, shared by all people) and a
per-person modulation ``z`` that ``nermo_ros.meta`` fits to each observed window in a few
gradient steps. Every op is plain matmul / softmax / sin / cos / where so that the
adapt-and-predict step traces to ONNX with static shapes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import Tensor, nn

from nermo_ros import skeleton
from nermo_ros.evaluation.protocol import mirror_map
from nermo_ros.history import MixBlock, fill_missing, residual_dropout

# Added to attention logits of keys that must not be attended to. Finite (not -inf) so that a
# row with no valid key stays a uniform average instead of NaN, and small enough for fp16.
_MASKED_LOGIT = -1.0e4


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes a checkpoint's shapes, units and adaptation rule; saved inside
    the checkpoint. ``ADAPTATION_FIELDS`` change no weight's shape."""

    num_joints: int = skeleton.NUM_JOINTS
    layout: str = skeleton.LAYOUT_ID
    fourier_levels: int = 6  # L: sin/cos(2^l pi t) for l = 0..L-1
    width: int = 128  # token width D
    modulation_dim: int = 64  # M: size of the per-person modulation z
    codebook_size: int = 32  # learned codebook entries for the cross-attention
    num_blocks: int = 2
    num_heads: int = 4
    time_unit_s: float = 1.0  # model time = seconds / time_unit_s (0 = newest observed frame)
    position_unit_m: float = 0.1  # model position = metres / position_unit_m
    # Joint whose newest observed position is the origin of a window; -1: keep the data's own
    # origin (the standard CMU protocol data is already root-centred).
    origin_joint: int = 0
    velocity_tau_init_s: float = 0.04  # initial age constant of the prior's velocity fit
    # The prior's velocity: the slope of a weighted "linear" or "quadratic" fit over the window
    # (``meta.joint_velocity``); changes no weight, so a training stage may switch it.
    velocity_fit: str = "linear"
    inner_lr_init: float = 10.0  # initial per-dimension inner learning rate (learned, log scale)
    # Amortised first guess of z from the window (0 blocks: none, every window starts at z0).
    # The encoder reads exactly ``encoder_frames`` frame slots, the trained window length.
    encoder_blocks: int = 0
    encoder_frames: int = 0
    encoder_width: int = 128
    # The inner loss fits every s-th frame slot counting back from the newest (1: all). The
    # encoder and the forecast still read the whole window; an inner step costs about 1/s.
    adapt_frame_stride: int = 1
    # Average each forecast with the unmirrored forecast of the window's left-right mirror
    # image (``nermo_ros.meta``): a test-time choice, twice the batch in one pass.
    mirror_average: bool = False
    # Share of the constant-velocity forecast (each joint's line over its sightings of the last
    # 0.1 s, ``predictors/baselines.py``) mixed into the forecast, decaying with the horizon h as
    # velocity_blend * exp(-h / velocity_blend_time_s); 0: none. A test-time choice made by
    # nested cross-validation (``evaluation/velocity_blend.py``), set by a zero-step stage.
    velocity_blend: float = 0.0
    velocity_blend_time_s: float = 0.32
    # Share of the entries of every residual branch dropped at random, in the decoder's blocks
    # and in the history encoder's: set only inside the training loss (``optim.dropout``,
    # ``optim.dropout_scope``); checkpoints keep 0.
    dropout: float = 0.0
    encoder_dropout: float = 0.0

    ADAPTATION_FIELDS = ("adapt_frame_stride", "mirror_average", "velocity_fit",
                         "velocity_blend", "velocity_blend_time_s", "dropout", "encoder_dropout")

    def __post_init__(self):
        if self.velocity_fit not in ("linear", "quadratic"):
            raise ValueError(f"ModelConfig: velocity_fit must be 'linear' or 'quadratic', "
                             f"got {self.velocity_fit!r}")
        if not 0.0 <= self.velocity_blend <= 1.0:
            raise ValueError(f"ModelConfig: velocity_blend must be in [0, 1], "
                             f"got {self.velocity_blend!r}")
        if not self.velocity_blend_time_s > 0.0:
            raise ValueError(f"ModelConfig: velocity_blend_time_s must be > 0, "
                             f"got {self.velocity_blend_time_s!r}")
        for name in ("dropout", "encoder_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"ModelConfig: {name} must be in [0, 1), "
                                 f"got {getattr(self, name)!r}")
        if self.adapt_frame_stride < 1:
            raise ValueError(f"ModelConfig: adapt_frame_stride must be >= 1, "
                             f"got {self.adapt_frame_stride}")
        if self.encoder_blocks > 0 and self.encoder_frames < 1:
            raise ValueError("ModelConfig: an encoder (encoder_blocks > 0) needs encoder_frames, "
                             "the number of observed frames per window")
        if self.mirror_average:
            try:
                perm, _ = mirror_map(self.layout)
            except ValueError as error:
                raise ValueError(f"ModelConfig: mirror_average needs a layout with a left-right "
                                 f"mirror map ({error}); set mirror_average false") from None
            if len(perm) != self.num_joints:
                raise ValueError(f"ModelConfig: mirror_average: layout {self.layout!r} mirrors "
                                 f"{len(perm)} joints, but the model has {self.num_joints}; "
                                 f"set mirror_average false")

    def to_dict(self) -> dict:
        return asdict(self)

    def shape_dict(self) -> dict:
        """The fields that fix the weights: two configs equal here can share weights."""
        return {k: v for k, v in asdict(self).items() if k not in self.ADAPTATION_FIELDS}

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**values)


def fourier_features(t: Tensor, levels: int) -> Tensor:
    """(..., ) times -> (..., 2 L + 1): t itself, then sin/cos(2^l pi t) for l = 0..L-1."""
    freqs = math.pi * (2.0 ** torch.arange(levels, dtype=t.dtype, device=t.device))
    angles = t.unsqueeze(-1) * freqs
    return torch.cat([t.unsqueeze(-1), torch.sin(angles), torch.cos(angles)], dim=-1)


def _attention(q: Tensor, k: Tensor, v: Tensor, num_heads: int, key_bias: Tensor | None) -> Tensor:
    """Multi-head dot-product attention written with reshape/matmul/softmax only.

    q: (..., Nq, D); k, v: (..., Nk, D); key_bias broadcastable to (..., heads, Nq, Nk).
    """
    *lead, nq, d = q.shape
    nk = k.shape[-2]
    hd = d // num_heads
    qh = q.reshape(*lead, nq, num_heads, hd).transpose(-2, -3)
    kh = k.reshape(*k.shape[:-2], nk, num_heads, hd).transpose(-2, -3)
    vh = v.reshape(*v.shape[:-2], nk, num_heads, hd).transpose(-2, -3)
    logits = torch.matmul(qh, kh.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
    if key_bias is not None:
        logits = logits + key_bias
    out = torch.matmul(torch.softmax(logits, dim=-1), vh)
    return out.transpose(-2, -3).reshape(*lead, nq, d)


class Block(nn.Module):
    """Codebook cross-attention, mask-aware attention across joints, then an MLP."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.width
        self.num_heads = cfg.num_heads
        self.dropout = cfg.dropout
        self.codebook = nn.Parameter(torch.randn(cfg.codebook_size, d) * 0.5)
        self.norm_code = nn.LayerNorm(d)
        self.code_q = nn.Linear(d, d)
        self.code_kv = nn.Linear(d, 2 * d)
        self.code_out = nn.Linear(d, d)
        self.norm_space = nn.LayerNorm(d)
        self.space_qkv = nn.Linear(d, 3 * d)
        self.space_out = nn.Linear(d, d)
        self.norm_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(approximate="tanh"), nn.Linear(2 * d, d))

    def forward(self, h: Tensor, joint_bias: Tensor) -> Tensor:
        """h: (B N J, D) tokens, joints innermost; joint_bias: (B, 1, 1, 1, J) additive key
        mask across joints. Tokens stay 2-D so that every Linear is one matmul."""
        h = h + residual_dropout(
            self.code_out(self._codebook_attention(self.code_q(self.norm_code(h)))), self.dropout)
        q, k, v = self.space_qkv(self.norm_space(h)).chunk(3, dim=-1)
        people, joints = joint_bias.shape[0], joint_bias.shape[-1]
        groups = (people, -1, joints, h.shape[-1])  # (B, N, J, D)
        mixed = _attention(q.reshape(groups), k.reshape(groups), v.reshape(groups), self.num_heads,
                           joint_bias)
        h = h + residual_dropout(self.space_out(mixed.reshape(h.shape)), self.dropout)
        return h + residual_dropout(self.mlp(self.norm_mlp(h)), self.dropout)

    def _codebook_attention(self, q: Tensor) -> Tensor:
        """Multi-head attention of (T, D) queries over the codebook as two plain matmuls: the
        keys and values of head h are zero outside h's dimensions and stacked head by head,
        so q @ keys.T holds every head's logits and probs @ values puts each head's output
        into its own dimensions (no per-head reshapes or transposes in the adapt graph)."""
        k, v = self.code_kv(self.codebook).chunk(2, dim=-1)  # (C, D) each
        c, d = k.shape
        heads = self.num_heads
        own = (torch.arange(d, device=q.device) // (d // heads)
               == torch.arange(heads, device=q.device).unsqueeze(1)).to(q.dtype)  # (H, D)
        keys = (k.unsqueeze(0) * own.unsqueeze(1)).reshape(heads * c, d)
        values = (v.unsqueeze(0) * own.unsqueeze(1)).reshape(heads * c, d)
        logits = torch.matmul(q, keys.t()) * (1.0 / math.sqrt(d // heads))
        probs = torch.softmax(logits.reshape(-1, heads, c), dim=-1).reshape(-1, heads * c)
        return torch.matmul(probs, values)


class HistoryEncoder(nn.Module):
    """The window's first guess of z, so that the few inner steps refine instead of search.

    Reads (B, T) times, (B, T, J, 3) positions and the (B, T, J) mask of exactly T frame
    slots; hidden entries enter as the joint's neighbouring observation plus a 0 in the mask
    channel, so their stored values never matter. Starts at zero output: z0 alone.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.encoder_width
        self.slot_in = nn.Linear(4 * cfg.num_joints + 1, w)
        self.blocks = nn.Sequential(*(MixBlock(cfg.encoder_frames, w, 2 * w, cfg.encoder_dropout)
                                      for _ in range(cfg.encoder_blocks)))
        self.to_z = nn.Linear(cfg.encoder_frames * w, cfg.modulation_dim)
        nn.init.zeros_(self.to_z.weight)
        nn.init.zeros_(self.to_z.bias)

    def forward(self, t: Tensor, x: Tensor, mask: Tensor) -> Tensor:
        b, n, j, _ = x.shape
        slots = torch.cat([fill_missing(x, mask).reshape(b, n, 3 * j), mask, t.unsqueeze(-1)], dim=-1)
        return self.to_z(self.blocks(self.slot_in(slots)).reshape(b, -1))


class NermoModel(nn.Module):
    """f(t, z): every joint's displacement from its kinematic prior (its last observed position
    moved on by its observed velocity, damped per time offset; see ``nermo_ros.meta``).

    ``forward(t, z, joint_seen)`` with t: (B, N) model time, z: (B, M) modulation, joint_seen:
    (B, J) float, 1 where the joint was observed at least once in the window. Joints never
    seen carry no information about this person, so other joints do not attend to them.
    Returns (B, N, J, 3) displacements in model position units.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.width
        self.time_in = nn.Linear(2 * cfg.fourier_levels + 1, d)
        self.joint_codes = nn.Parameter(torch.randn(cfg.num_joints, d) * 0.5)
        self.modulation = nn.Linear(cfg.modulation_dim, cfg.num_joints * d)
        self.time_mix = nn.Sequential(nn.GELU(approximate="tanh"), nn.Linear(d, d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_blocks))
        self.norm_out = nn.LayerNorm(d)
        self.head = nn.Linear(d, 3)
        # Damping of the kinematic prior per time offset (see nermo_ros.meta.kinematic_prior):
        # zero = plain constant velocity.
        self.prior_damping = nn.Parameter(torch.zeros(2 * cfg.fourier_levels + 1))
        # Age constant of the velocity fit (recent frames weigh more), learned on a log scale.
        self.log_velocity_tau = nn.Parameter(torch.tensor(math.log(cfg.velocity_tau_init_s / cfg.time_unit_s)))
        # Learned initial modulation and per-dimension inner learning rates (Meta-SGD style).
        self.z0 = nn.Parameter(torch.zeros(cfg.modulation_dim))
        self.log_inner_lr = nn.Parameter(torch.full((cfg.modulation_dim,), math.log(cfg.inner_lr_init)))
        self.encoder = HistoryEncoder(cfg) if cfg.encoder_blocks > 0 else None
        nn.init.normal_(self.head.weight, std=0.1)
        nn.init.zeros_(self.head.bias)

    def forward(self, t: Tensor, z: Tensor, joint_seen: Tensor) -> Tensor:
        b, n = t.shape
        j, d = self.cfg.num_joints, self.cfg.width
        time_feat = self.time_in(fourier_features(t.reshape(b * n), self.cfg.fourier_levels))
        shift = self.modulation(z).reshape(b, 1, j, d)  # per-person, per-joint shift
        h = (time_feat.reshape(b, n, 1, d) + self.joint_codes + shift).reshape(b * n * j, d)
        h = h + self.time_mix(h)
        joint_bias = ((1.0 - joint_seen) * _MASKED_LOGIT).reshape(b, 1, 1, 1, j)
        for block in self.blocks:
            h = block(h, joint_bias)
        return self.head(self.norm_out(h)).reshape(b, n, j, 3)
