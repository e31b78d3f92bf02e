"""Random training windows with random incomplete observations, drawn on the training device.

All trials of a split are converted once (forward kinematics, layout) into one tensor of
50 Hz frames; a batch is a gather of random windows that lie inside one trial.

With ``window.frame_rates_hz``, ``timestamp_jitter_s`` or ``perception_noise`` set, the
observed frames are drawn as a camera delivers them (``sample_camera_batch``): at a rate drawn
per window, with jittered stamps, and through the measured perception noise
(``evaluation.perception_noise``); the future stays clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nermo_ros import skeleton
from nermo_ros.data import cmu
from nermo_ros.evaluation.perception_noise import (PerceptionNoise, corrupt, draw_rates_hz,
                                                   drift_bones, frame_times_s, load_noise)
from nermo_ros.evaluation.protocol import trial_positions_m
from nermo_ros.meta import mirror_image
from nermo_ros.model import ModelConfig
from nermo_ros.training.amplitude import scaled_motion
from nermo_ros.training.config import WindowConfig


@dataclass(frozen=True)
class SequenceBank:
    positions_m: Tensor  # (N, J, 3) all trials' 50 Hz frames, concatenated
    starts: Tensor  # (W,) indices where a window of span_raw frames fits inside one trial
    # (W,) odds of drawing each start (``WindowConfig.action_balance``); None: all alike.
    odds: Tensor | None = None
    # (N,) per raw frame: may a window starting there run backwards
    # (``WindowConfig.time_reverse_actions``); None: every window may.
    reversible: Tensor | None = None
    # (N,) per raw frame: the speed jitter of a window starting there
    # (``WindowConfig.speed_jitter_actions``); None: ``speed_jitter`` for every window.
    speed_jitter: Tensor | None = None

    def draw(self, batch_size: int, gen: torch.Generator) -> Tensor:
        """(B,) window starts."""
        device = self.starts.device
        if self.odds is None:
            pick = torch.randint(len(self.starts), (batch_size,), device=device, generator=gen)
        else:
            pick = torch.multinomial(self.odds, batch_size, replacement=True, generator=gen)
        return self.starts[pick]


def action_odds(actions: list[str], balance: float,
                shares: np.ndarray | None = None) -> np.ndarray:
    """Per window, n_a ** -balance for its action's window count n_a: an action then draws
    in proportion to n_a ** (1 - balance). ``shares`` (per window, default 1) weigh each window
    and count it as that fraction of a window: a trial and its k amplitude copies each hold
    1 / (1 + k), so together they draw as the trial alone did."""
    names, index = np.unique(actions, return_inverse=True)
    shares = np.ones(len(actions)) if shares is None else np.asarray(shares, dtype=np.float64)
    counts = np.bincount(index, weights=shares, minlength=len(names))
    return counts[index] ** -balance * shares


def build_bank(files: list[Path], skeleton: cmu.CmuSkeleton, layout: str, span_raw: int,
               device: torch.device | str = "cpu", action_balance: float = 0.0,
               reversible_actions: tuple[str, ...] = (), speed_jitter: float = 0.0,
               speed_jitter_actions: dict | None = None,
               amplitude_copies_actions: dict | None = None,
               amplitude_pivot_raw: int = WindowConfig().amplitude_pivot_raw) -> SequenceBank:
    """Convert the trial files once; refuse an empty split with a clear message. A file's
    action is its folder's name (``cmu.list_trials``). An action that ``reversible_actions``,
    ``speed_jitter_actions`` or ``amplitude_copies_actions`` names must have a training trial
    (a misspelt name would otherwise change nothing, unnoticed). The amplitude copies of a
    trial (``training/amplitude.py``) follow it, with its action."""
    copies = amplitude_copies_actions or {}
    chunks, starts, actions, shares, frame_actions, offset = [], [], [], [], [], 0
    for path in files:
        action, frames = Path(path).parent.name, cmu.read_expmap_file(path)
        factors = copies.get(action, ())
        for motion in [frames] + [scaled_motion(frames, f, amplitude_pivot_raw) for f in factors]:
            pos = trial_positions_m(motion, skeleton, layout)
            if len(pos) >= span_raw:
                starts.append(offset + np.arange(len(pos) - span_raw + 1))
                actions += [action] * len(starts[-1])
                shares += [1.0 / (1 + len(factors))] * len(starts[-1])
            chunks.append(pos)
            frame_actions += [action] * len(pos)
            offset += len(pos)
    if not starts:
        raise ValueError(f"no trial among {len(files)} files is long enough for a training "
                         f"window of {span_raw} frames at 50 Hz")
    odds = None
    if action_balance > 0 or copies:
        odds = torch.as_tensor(action_odds(actions, action_balance, np.asarray(shares)),
                               dtype=torch.float32, device=device)
    for key, named in (("time_reverse_actions", reversible_actions),
                       ("speed_jitter_actions", speed_jitter_actions or {}),
                       ("amplitude_copies_actions", copies)):
        unknown = sorted(set(named) - set(frame_actions))
        if unknown:
            raise ValueError(f"window.{key} {unknown}: no such action folder among the "
                             f"training trials ({', '.join(sorted(set(actions)))})")
    reversible = None
    if reversible_actions:
        reversible = torch.as_tensor(np.isin(frame_actions, reversible_actions), device=device)
    jitter = None
    if speed_jitter_actions:
        jitter = torch.as_tensor([speed_jitter_actions.get(a, speed_jitter) for a in frame_actions],
                                 dtype=torch.float32, device=device)
    return SequenceBank(
        positions_m=torch.as_tensor(np.concatenate(chunks), dtype=torch.float32, device=device),
        starts=torch.as_tensor(np.concatenate(starts), dtype=torch.long, device=device),
        odds=odds, reversible=reversible, speed_jitter=jitter)


@dataclass(frozen=True)
class Batch:
    """Model units. obs_*: the observed window (times <= 0); fut_*: the future to predict."""

    obs_t: Tensor  # (B, T)
    obs_x: Tensor  # (B, T, J, 3) complete ground truth (the mask says what is seen)
    obs_mask: Tensor  # (B, T, J) float
    fut_t: Tensor  # (B, Q)
    fut_x: Tensor  # (B, Q, J, 3)
    # (B, T, J, 3) the observed frames as they truly were: obs_x before perception noise (the
    # reconstruction target, so that training never rewards reproducing noise); None: obs_x.
    obs_truth: Tensor | None = None

    @property
    def obs_target(self) -> Tensor:
        return self.obs_x if self.obs_truth is None else self.obs_truth


def _yaw_rotate(x: Tensor, gen: torch.Generator) -> Tensor:
    """Rotate (B, N, J, 3) REP-103 positions about z by a random angle per window."""
    angle = torch.rand(x.shape[0], device=x.device, generator=gen) * (2 * np.pi)
    c, s = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    rot = torch.stack([c, -s, zero, s, c, zero, zero, zero, one], dim=-1).reshape(-1, 1, 3, 3)
    return torch.einsum("bnjc,bdc->bnjd", x, rot.squeeze(1))


def random_masks(b: int, t: int, j: int, spec: WindowConfig, gen: torch.Generator,
                 device) -> Tensor:
    """(B, T, J) float: per window a joint-drop and a frame-drop rate; the newest frame stays."""
    def rate(max_rate: float) -> Tensor:
        r = torch.rand(b, 1, 1, device=device, generator=gen) * max_rate
        keep_all = torch.rand(b, 1, 1, device=device, generator=gen) < spec.complete_fraction
        return torch.where(keep_all, torch.zeros_like(r), r)

    joints = torch.rand(b, t, j, device=device, generator=gen) >= rate(spec.joint_drop_max)
    frames = torch.rand(b, t, 1, device=device, generator=gen) >= rate(spec.frame_drop_max)
    frames[:, -1] = True
    return (joints & frames).float()


def _jitter(b: int, amount: float | Tensor, gen: torch.Generator, device) -> Tensor:
    """(B,) factors drawn from U(1 - amount, 1 + amount); ``amount`` a number or (B,)."""
    return 1.0 + amount * (2.0 * torch.rand(b, device=device, generator=gen) - 1.0)


def _speeds(bank: SequenceBank, spec: WindowConfig, start: Tensor,
            gen: torch.Generator) -> Tensor | None:
    """(B,) playback speeds of the windows at ``start``, each within its action's jitter; None
    when no window changes speed (no draw, so such configs keep their batches)."""
    if spec.max_speed_jitter == 0:
        return None
    if spec.speed_jitter_actions and bank.speed_jitter is None:
        raise ValueError("window.speed_jitter_actions needs a bank built with them "
                         "(build_bank(..., speed_jitter_actions=...))")
    amount = spec.speed_jitter if bank.speed_jitter is None else bank.speed_jitter[start]
    return _jitter(len(start), amount, gen, start.device)


def _gather_frames(bank: SequenceBank, start: Tensor, offsets: Tensor, speed: Tensor) -> Tensor:
    """(B, N, J, 3): frames at ``start + speed * offsets`` raw frames, linearly interpolated."""
    pos = start[:, None].float() + speed[:, None] * offsets.float()  # offsets (N,) or (B, N)
    lo = pos.floor().long()
    frac = (pos - lo.float())[..., None, None]
    return (1.0 - frac) * bank.positions_m[lo] + frac * bank.positions_m[lo + 1]


def _mirror(x: Tensor, layout: str, gen: torch.Generator) -> Tensor:
    """Mirror a random half of the (B, N, J, 3) windows left-right."""
    mirrored = mirror_image(x, layout)
    pick = torch.rand(x.shape[0], device=x.device, generator=gen) < 0.5
    return torch.where(pick[:, None, None, None], mirrored, x)


def _played_backwards(bank: SequenceBank, spec: WindowConfig, start: Tensor, offsets: Tensor,
                      gen: torch.Generator) -> Tensor:
    """(N,) raw-frame offsets of every window, or (B, N) with a time_reverse_share of the
    reversible windows running over the same frames from the last to the first."""
    if spec.time_reverse_share <= 0:  # no draw: earlier configs keep their batches
        return offsets
    pick = torch.rand(len(start), device=start.device, generator=gen) < spec.time_reverse_share
    if bank.reversible is not None:
        pick &= bank.reversible[start]
    return torch.where(pick[:, None], offsets[-1] - offsets[None], offsets[None])


def sample_batch(bank: SequenceBank, spec: WindowConfig, model: ModelConfig, batch_size: int,
                 gen: torch.Generator) -> Batch:
    if spec.camera_like:
        return sample_camera_batch(bank, spec, model, batch_size, gen)
    device = bank.positions_m.device
    start = bank.draw(batch_size, gen)
    obs_off = torch.arange(spec.obs_frames, device=device) * spec.obs_step_raw
    newest = (spec.obs_frames - 1) * spec.obs_step_raw
    fut_off = newest + torch.arange(1, spec.future_frames + 1, device=device) * spec.future_step_raw
    offsets = _played_backwards(bank, spec, start, torch.cat([obs_off, fut_off]), gen)
    speed = _speeds(bank, spec, start, gen)
    if speed is not None:
        x = _gather_frames(bank, start, offsets, speed)  # (B, T + Q, J, 3) metres
    else:
        x = bank.positions_m[start[:, None] + offsets]
    x = _augment(x, spec, model, gen) / model.position_unit_m
    period_s = 1.0 / cmu.RAW_FRAME_RATE_HZ
    obs_t = ((obs_off - newest).float() * period_s / model.time_unit_s).expand(batch_size, -1)
    fut_t = ((fut_off - newest).float() * period_s / model.time_unit_s).expand(batch_size, -1)
    t = spec.obs_frames
    mask = random_masks(batch_size, t, model.num_joints, spec, gen, device)
    return Batch(obs_t.contiguous(), x[:, :t], mask, fut_t.contiguous(), x[:, t:])


@lru_cache(maxsize=4)
def load_window_noise(path: str) -> PerceptionNoise:
    """The perception noise YAML a window config names (read once per process); a relative
    path not found from here is looked up among the package's data (config/)."""
    from nermo_ros.paths import find_package_data

    found = Path(path)
    if not found.is_file():
        found = find_package_data(path) or found
    return load_noise(found)


def _augment(x: Tensor, spec: WindowConfig, model: ModelConfig, gen: torch.Generator) -> Tensor:
    """Origin at the newest observed frame's root joint, then yaw, mirror, scale and bone
    proportions."""
    if model.origin_joint >= 0:
        x = x - x[:, spec.obs_frames - 1, model.origin_joint][:, None, None]
    if spec.random_yaw:
        x = _yaw_rotate(x, gen)
    if spec.mirror:
        x = _mirror(x, model.layout, gen)
    if spec.scale_jitter > 0:
        x = x * _jitter(x.shape[0], spec.scale_jitter, gen, x.device)[:, None, None, None]
    if spec.bone_scale_jitter > 0:  # one factor per bone and window: the root stays put
        b, bones = x.shape[0], len(skeleton.BONES)
        factors = _jitter(b * bones, spec.bone_scale_jitter, gen, x.device).reshape(b, 1, bones)
        x = drift_bones(x, factors.expand(-1, x.shape[1], -1).to(x.dtype))
    return x


def sample_camera_batch(bank: SequenceBank, spec: WindowConfig, model: ModelConfig,
                        batch_size: int, gen: torch.Generator) -> Batch:
    """Windows whose observed frames come as a camera delivers them; the future stays clean
    at ``future_step_raw``. Every window's newest observed frame sits ``obs_span_raw`` raw
    frames after its start, so the slowest rate's oldest frame still lies in the trial."""
    device = bank.positions_m.device
    t, raw_hz = spec.obs_frames, cmu.RAW_FRAME_RATE_HZ
    if spec.frame_rates_hz:
        rates = draw_rates_hz(spec.frame_rates_hz, batch_size, gen, device)
    else:
        rates = torch.full((batch_size,), raw_hz / spec.obs_step_raw, device=device)
    capture_s, stamps_s = frame_times_s(rates, t, spec.timestamp_jitter_s, gen)
    newest = float(spec.obs_span_raw)
    obs_off = torch.clamp(newest + capture_s * raw_hz, min=0.0)  # (B, T) raw frames
    fut_off = newest + torch.arange(1, spec.future_frames + 1, device=device) * spec.future_step_raw
    offsets = torch.cat([obs_off, fut_off.float().expand(batch_size, -1)], dim=1)
    start = bank.draw(batch_size, gen)
    speed = _speeds(bank, spec, start, gen)
    if speed is None:
        speed = torch.ones(batch_size, device=device)
    x = _augment(_gather_frames(bank, start, offsets, speed), spec, model, gen)
    mask = random_masks(batch_size, t, model.num_joints, spec, gen, device)
    obs_x = x[:, :t]
    profiles = spec.noise_profiles
    if profiles:
        # One profile draws in the same order as before profiles existed (same batches).
        seen = [corrupt(obs_x, 1.0 / rates, load_window_noise(path), gen) for path in profiles]
        noisy = torch.rand(batch_size, device=device, generator=gen) < spec.perception_noise_share
        profile = (torch.randint(len(profiles), (batch_size,), device=device, generator=gen)
                   if len(profiles) > 1 else None)
        for k, corrupted in enumerate(seen):
            pick = noisy if profile is None else noisy & (profile == k)
            obs_x = torch.where(pick[:, None, None, None], corrupted.positions_m, obs_x)
            mask = mask * torch.where(pick[:, None, None], corrupted.joint_mask, True).float()
    fut_t = (fut_off - newest).float() / raw_hz / model.time_unit_s
    return Batch((stamps_s / model.time_unit_s).float().contiguous(),
                 obs_x / model.position_unit_m, mask,
                 fut_t.expand(batch_size, -1).contiguous(), x[:, t:] / model.position_unit_m,
                 x[:, :t] / model.position_unit_m)
