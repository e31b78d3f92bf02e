"""What a camera adds to clean motion: MediaPipe's measured noise as a small model, and the
injector that puts it into observed windows.

``PerceptionNoise`` holds, per canonical joint, the jitter's standard deviation along the
camera axis (depth) and the two image-plane axes, with one correlation time (the jitter is a
first-order autoregressive process, as MediaPipe's video mode smooths its landmarks); per
joint, glitches (frames far off, their share, size and length); runs of frames whose left
and right labels are swapped (front and back confused); per bone, a slow relative drift of
its length; a systematic scale of depth; per joint, the share of frames it is dropped
(confidence 0) and how long a drop lasts; how often the whole body is missed; and the
camera's timing: the frame rates to test and the jitter of the stamps. It is measured on
real video by ``noise_measurement`` and kept in ``config/perception_noise.yaml``.

The injector works on torch tensors, so training applies it on the GPU and evaluation on the
CPU with one implementation. Mocap has no camera: every window gets its own camera direction
in the horizontal plane (a level camera), and that direction is the depth axis.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import yaml
from torch import Tensor

from nermo_ros import skeleton
from nermo_ros.evaluation.protocol import mirror_map

CAMERA_AXES = ("depth", "lateral", "vertical")
# Where a window's stamps may stray from the capture grid, as a share of the frame period:
# below one half, so a stamp never passes its neighbour and times stay increasing.
MAX_STAMP_SHIFT_OF_PERIOD = 0.4
BONE_CHILDREN = tuple(child for _, child in skeleton.BONES)
ZERO_AXES = ((0.0, 0.0, 0.0),) * skeleton.NUM_JOINTS
PER_JOINT_AXES = ("jitter_std_m", "glitch_std_m")
PER_JOINT = ("joint_drop_share", "glitch_share")


def mirror_permutation() -> tuple[int, ...]:
    """The canonical joints with left and right labels exchanged."""
    return mirror_map(skeleton.LAYOUT_ID)[0]


@dataclass(frozen=True)
class PerceptionNoise:
    """One camera's skeleton noise on the canonical skeleton (``skeleton.JOINT_NAMES``).

    jitter_std_m: per joint (depth, lateral, vertical) 1-sigma, metres.
    jitter_time_s: the jitter's correlation time (0: independent from frame to frame).
    glitch_share / glitch_std_m / glitch_run_s: per joint the share of frames far off, the
        1-sigma of the offset then (per axis, drawn afresh each frame), the mean run, seconds.
    swap_share / swap_run_s: share of frames with left and right swapped; mean run, seconds.
    bone_drift: per bone (``skeleton.BONES`` order) the relative 1-sigma of its length.
    bone_drift_time_s: the drift's correlation time.
    depth_scale: depth (relative to the pelvis) as the camera reports it over the truth.
    joint_drop_share / joint_drop_run_s: per joint the share of frames with confidence 0;
        the mean length of such a run, seconds.
    body_drop_share / body_drop_run_s: the same for frames where the whole body is missed.
    frame_rates_hz: camera rates to evaluate at; timestamp_jitter_s: 1-sigma of the stamps.
    provenance: when and on what it was measured, and the figures it was measured from.
    """

    jitter_std_m: tuple[tuple[float, float, float], ...]
    jitter_time_s: float = 0.0
    glitch_share: tuple[float, ...] = (0.0,) * skeleton.NUM_JOINTS
    glitch_std_m: tuple[tuple[float, float, float], ...] = ZERO_AXES
    glitch_run_s: float = 0.0
    swap_share: float = 0.0
    swap_run_s: float = 0.0
    bone_drift: tuple[float, ...] = (0.0,) * len(skeleton.BONES)
    bone_drift_time_s: float = 1.0
    depth_scale: float = 1.0
    joint_drop_share: tuple[float, ...] = (0.0,) * skeleton.NUM_JOINTS
    joint_drop_run_s: float = 0.0
    body_drop_share: float = 0.0
    body_drop_run_s: float = 0.0
    frame_rates_hz: tuple[float, ...] = (25.0,)
    timestamp_jitter_s: float = 0.0
    provenance: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        sizes = {name: (len(getattr(self, name)), skeleton.NUM_JOINTS)
                 for name in PER_JOINT_AXES + PER_JOINT}
        sizes["bone_drift"] = (len(self.bone_drift), len(skeleton.BONES))
        for name, (got, wanted) in sizes.items():
            if got != wanted:
                raise ValueError(f"perception noise: {name} has {got} entries, the canonical "
                                 f"skeleton needs {wanted}; measure it again with "
                                 "`python -m nermo_ros.commands.perception_noise`")
        shares = (*self.joint_drop_share, *self.glitch_share, self.body_drop_share,
                  self.swap_share)
        if not all(0.0 <= s < 1.0 for s in shares):
            raise ValueError(f"perception noise: drop shares must lie in [0, 1), got {shares}")
        if not self.frame_rates_hz or min(self.frame_rates_hz) <= 0:
            raise ValueError(f"perception noise: frame_rates_hz {self.frame_rates_hz} must be "
                             "positive rates, e.g. [10, 15, 30]")
        period_s = 1.0 / max(self.frame_rates_hz)
        if self.timestamp_jitter_s < 0 or self.timestamp_jitter_s > period_s:
            raise ValueError(f"perception noise: timestamp_jitter_s {self.timestamp_jitter_s} "
                             f"must lie in [0, {period_s:.3f}] (one period at the fastest rate)")
        if self.depth_scale <= 0:
            raise ValueError(f"perception noise: depth_scale {self.depth_scale} must be > 0")

    @classmethod
    def none(cls, frame_rates_hz=(25.0,)) -> "PerceptionNoise":
        """No noise at all: the injector then only samples the frame times."""
        return cls(ZERO_AXES, frame_rates_hz=tuple(frame_rates_hz))

    def jitter_only(self, factor: float = 1.0) -> "PerceptionNoise":
        """Only the jitter, ``factor`` times as large; no glitches, swaps, drift, drops or
        stamp jitter."""
        return replace(PerceptionNoise.none(self.frame_rates_hz), jitter_time_s=self.jitter_time_s,
                       jitter_std_m=tuple(tuple(factor * s for s in j) for j in self.jitter_std_m))

    def jitter_rms_3d_m(self) -> float:
        """The jitter's 3D RMS length over all joints."""
        return math.sqrt(sum(s * s for j in self.jitter_std_m for s in j)
                         / len(self.jitter_std_m))

    def to_yaml_dict(self) -> dict:
        """Per-joint and per-bone values keyed by name, so the file reads on its own."""
        out = asdict(self)
        for name in PER_JOINT_AXES:
            out[name] = {n: [round(v, 5) for v in s]
                         for n, s in zip(skeleton.JOINT_NAMES, getattr(self, name))}
        for name in PER_JOINT:
            out[name] = {n: round(v, 5) for n, v in zip(skeleton.JOINT_NAMES, getattr(self, name))}
        out["bone_drift"] = {skeleton.JOINT_NAMES[c]: round(v, 5)
                             for c, v in zip(BONE_CHILDREN, self.bone_drift)}
        out["frame_rates_hz"] = list(self.frame_rates_hz)
        for name, value in out.items():
            if isinstance(value, float):
                out[name] = round(value, 5)
        return {"layout": skeleton.LAYOUT_ID, **out}

    @classmethod
    def from_yaml_dict(cls, values: dict, where: str = "perception noise") -> "PerceptionNoise":
        values = dict(values)
        layout = values.pop("layout", skeleton.LAYOUT_ID)
        if layout != skeleton.LAYOUT_ID:
            raise ValueError(f"{where}: measured for layout {layout!r}; only "
                             f"{skeleton.LAYOUT_ID!r} is supported")
        try:
            for name in PER_JOINT_AXES:
                if name in values:
                    values[name] = tuple(tuple(float(v) for v in values[name][n])
                                         for n in skeleton.JOINT_NAMES)
            for name in PER_JOINT:
                if name in values:
                    values[name] = tuple(float(values[name][n]) for n in skeleton.JOINT_NAMES)
            if "bone_drift" in values:
                values["bone_drift"] = tuple(float(values["bone_drift"][skeleton.JOINT_NAMES[c]])
                                             for c in BONE_CHILDREN)
        except KeyError as missing:
            raise ValueError(f"{where}: no value for joint {missing}; every canonical joint "
                             f"needs one ({', '.join(skeleton.JOINT_NAMES)})") from None
        values["frame_rates_hz"] = tuple(float(r) for r in values.get("frame_rates_hz", (25.0,)))
        try:
            return cls(**values)
        except TypeError as error:
            raise ValueError(f"{where}: {error}") from None


def load_noise(path: str | Path) -> PerceptionNoise:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"perception noise file {path} does not exist; make it with "
                                "`python -m nermo_ros.commands.perception_noise --out "
                                f"{path}`")
    return PerceptionNoise.from_yaml_dict(yaml.safe_load(path.read_text()) or {}, str(path))


def save_noise(path: str | Path, noise: PerceptionNoise, header: str = "") -> None:
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    text = yaml.safe_dump(noise.to_yaml_dict(), sort_keys=False, default_flow_style=None,
                          width=100)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines + [text]))


def today() -> str:
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


# ---- the injector ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """An observed window as a camera delivers it: (B, T, J, 3) metres, (B, T, J) joints seen,
    (B, T) frames with the body in them (the newest always)."""

    positions_m: Tensor
    joint_mask: Tensor
    frame_valid: Tensor


def draw_rates_hz(rates_hz, count: int, gen: torch.Generator, device="cpu") -> Tensor:
    """(count,) rates drawn uniformly from ``rates_hz``."""
    table = torch.tensor([float(r) for r in rates_hz], device=device)
    return table[torch.randint(len(table), (count,), generator=gen, device=device)]


def frame_times_s(rates_hz: Tensor, frames: int, timestamp_jitter_s: float,
                  gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """(capture, stamps), each (B, T) seconds with the newest frame at 0.

    Frames are captured on each window's grid; stamps stray from it by N(0, jitter), kept
    within ``MAX_STAMP_SHIFT_OF_PERIOD`` of a period. Only differences of stamps reach a
    forecaster, so the newest stamp is taken as its capture time.
    """
    period_s = (1.0 / rates_hz)[:, None]
    steps = torch.arange(frames, device=rates_hz.device, dtype=rates_hz.dtype) - (frames - 1)
    capture = steps[None] * period_s
    shift = timestamp_jitter_s * torch.randn(capture.shape, generator=gen, device=capture.device)
    limit = MAX_STAMP_SHIFT_OF_PERIOD * period_s
    shift = torch.maximum(torch.minimum(shift, limit), -limit)
    return capture, capture + shift - shift[:, -1:]


def autoregressive(shape: tuple[int, ...], rho: Tensor, gen: torch.Generator) -> Tensor:
    """(B, T, ...) unit-variance stationary AR(1) along axis 1 with per-window ``rho`` (B,)."""
    white = torch.randn(shape, generator=gen, device=rho.device)
    r = rho.reshape((-1,) + (1,) * (len(shape) - 2))
    keep = torch.sqrt(1.0 - r * r)
    steps = [white[:, 0]]
    for t in range(1, shape[1]):
        steps.append(r * steps[-1] + keep * white[:, t])
    return torch.stack(steps, dim=1)


def correlation(period_s: Tensor, time_s: float) -> Tensor:
    """AR(1) coefficient between frames ``period_s`` apart for a correlation time ``time_s``."""
    if time_s <= 0:
        return torch.zeros_like(period_s)
    return torch.exp(-period_s / time_s)


def markov_runs(b: int, t: int, share: Tensor, run_s: float, period_s: Tensor,
                gen: torch.Generator) -> Tensor:
    """(B, T, N) bool: per window and item a two-state Markov chain that is True for a
    stationary ``share`` (N,) of frames, in runs of ``run_s`` on average."""
    leave = torch.clamp(period_s / run_s, max=1.0) if run_s > 0 else torch.ones_like(period_s)
    leave = leave[:, None]  # (B, 1): P(dropped -> seen)
    enter = torch.clamp(leave * share / (1.0 - share), max=1.0)  # P(seen -> dropped)
    u = torch.rand((b, t, len(share)), generator=gen, device=period_s.device)
    state = u[:, 0] < share
    states = [state]
    for k in range(1, t):
        state = torch.where(state, u[:, k] >= leave, u[:, k] < enter)
        states.append(state)
    return torch.stack(states, dim=1)


def camera_axes(b: int, gen: torch.Generator, device="cpu") -> Tensor:
    """(B, 3, 3): columns are the depth, lateral and vertical axes of a level camera in the
    data's REP-103 frame, looking along a random horizontal direction."""
    angle = 2 * math.pi * torch.rand(b, generator=gen, device=device)
    c, s = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1),
                        torch.stack([zero, zero, one], -1)], dim=1)


def drift_bones(positions_m: Tensor, scale: Tensor) -> Tensor:
    """Each bone (B, T, bones) times its scale, children following their parents."""
    out = [positions_m[:, :, 0]]
    for bone, (parent, child) in enumerate(skeleton.BONES):
        assert len(out) == child, "skeleton.BONES must list children in joint order"
        offset = positions_m[:, :, child] - positions_m[:, :, parent]
        out.append(out[parent] + scale[:, :, bone, None] * offset)
    return torch.stack(out, dim=2)


def corrupt(positions_m: Tensor, period_s: Tensor, noise: PerceptionNoise,
            gen: torch.Generator) -> Observed:
    """Clean (B, T, J, 3) frames captured ``period_s`` (B,) apart -> what the camera reports.

    In order: bone lengths drift, depth is scaled about the pelvis, the jitter and the
    glitches are added in camera axes, left and right labels are swapped in runs, joints and
    whole frames are dropped (the newest frame always has the body).
    """
    b, t, j, _ = positions_m.shape
    if j != skeleton.NUM_JOINTS:
        raise ValueError(f"perception noise is measured on the {skeleton.NUM_JOINTS}-joint "
                         f"canonical skeleton, got {j} joints; use layout {skeleton.LAYOUT_ID}")
    device, dtype = positions_m.device, positions_m.dtype
    axes = camera_axes(b, gen, device).to(dtype)
    x = positions_m
    drift = torch.tensor(noise.bone_drift, device=device, dtype=dtype)
    if float(drift.abs().sum()) > 0:
        rho = correlation(period_s, noise.bone_drift_time_s)
        x = drift_bones(x, 1.0 + drift * autoregressive((b, t, len(drift)), rho, gen).to(dtype))
    if noise.depth_scale != 1.0:
        depth_axis = axes[:, None, None, :, 0]
        depth = ((x - x[:, :, :1]) * depth_axis).sum(-1, keepdim=True)
        x = x + (noise.depth_scale - 1.0) * depth * depth_axis
    sigma = torch.tensor(noise.jitter_std_m, device=device, dtype=dtype)  # (J, 3) camera axes
    if float(sigma.abs().sum()) > 0:
        rho = correlation(period_s, noise.jitter_time_s)
        jitter = autoregressive((b, t, j, 3), rho, gen).to(dtype) * sigma
        x = x + torch.einsum("btjc,bdc->btjd", jitter, axes)
    glitch_share = torch.tensor(noise.glitch_share, device=device, dtype=period_s.dtype)
    if float(glitch_share.sum()) > 0:
        where = markov_runs(b, t, glitch_share, noise.glitch_run_s, period_s, gen)
        size = torch.tensor(noise.glitch_std_m, device=device, dtype=dtype)
        offset = torch.randn((b, t, j, 3), generator=gen, device=device).to(dtype) * size
        x = x + where[..., None] * torch.einsum("btjc,bdc->btjd", offset, axes)
    if noise.swap_share > 0:
        swap_share = torch.tensor([noise.swap_share], device=device, dtype=period_s.dtype)
        swapped = markov_runs(b, t, swap_share, noise.swap_run_s, period_s, gen)
        x = torch.where(swapped[..., None], x[:, :, list(mirror_permutation())], x)
    share = torch.tensor(noise.joint_drop_share, device=device, dtype=period_s.dtype)
    joint_mask = ~markov_runs(b, t, share, noise.joint_drop_run_s, period_s, gen)
    body = torch.tensor([noise.body_drop_share], device=device, dtype=period_s.dtype)
    frame_valid = ~markov_runs(b, t, body, noise.body_drop_run_s, period_s, gen)[..., 0]
    frame_valid[:, -1] = True
    return Observed(x, joint_mask & frame_valid[..., None], frame_valid)
