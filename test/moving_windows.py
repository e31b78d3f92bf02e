"""Training windows over a body moving along +x at a known speed: what a window sampler does
to time (playback speed, direction) shows in the velocity of the windows it draws."""

import numpy as np
import torch

from nermo_ros import skeleton
from nermo_ros.model import ModelConfig
from nermo_ros.training.config import WindowConfig
from nermo_ros.training.windows import SequenceBank, sample_batch

J = skeleton.NUM_JOINTS
MODEL = ModelConfig(num_joints=J, layout=skeleton.LAYOUT_ID, time_unit_s=1.0,
                    position_unit_m=0.1, origin_joint=0)
CLEAN = dict(joint_drop_max=0.0, frame_drop_max=0.0, complete_fraction=1.0)


def moving_bank(spec: WindowConfig, speed_mps: float, frames: int, **per_frame) -> SequenceBank:
    """Every joint moving along +x at ``speed_mps`` (50 Hz frames); ``per_frame``: the bank's
    per-frame fields (reversible, speed_jitter)."""
    positions = np.zeros((frames, J, 3), dtype=np.float32)
    positions[..., 0] = speed_mps * np.arange(frames)[:, None] / 50.0
    return SequenceBank(torch.from_numpy(positions), torch.arange(frames - spec.span_raw + 1),
                        **per_frame)


def future_velocity(batch) -> torch.Tensor:
    """(B,) each window's future velocity along x (m/s), from its first and last future frames."""
    x = batch.fut_x[..., 0].mean(dim=-1) * MODEL.position_unit_m
    return (x[:, -1] - x[:, 0]) / (batch.fut_t[:, -1] - batch.fut_t[:, 0])


def measured_draws(bank: SequenceBank, spec: WindowConfig, measure, seed: int,
                   batches: int = 8, size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Each window's start frame and ``measure(batch)`` of it, over ``batches`` clean batches:
    the start comes from replaying the generator, since a batch draws its starts first."""
    gen = torch.Generator().manual_seed(seed)
    starts, measured = [], []
    for _ in range(batches):
        state = gen.get_state()
        starts.append(bank.draw(size, gen))
        gen.set_state(state)
        measured.append(measure(sample_batch(bank, spec, MODEL, size, gen)))
    return torch.cat(starts), torch.cat(measured)
