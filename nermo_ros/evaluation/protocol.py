"""The CMU-Mocap short-term protocol of LTD (Mao et al., ICCV 2019), reused by MSR-GCN, PGBIG
and NeRMo, and this project's canonical-skeleton variant of it.

- Data: every second line of a trial (files taken as 50 Hz, so sequences are 25 Hz).
- Skeleton: root-relative positions without global rotation (the public forward kinematics),
  offsets times 70 read as millimetres, and 25 of the 38 joints (13 are the root, duplicates
  or end sites and are dropped).
- Samples (``protocol8``): per trial file, ``numpy.random.RandomState(1234567890)`` draws 8
  start indices ``idx = rng.randint(0, n - 75)`` on the downsampled sequence of n frames; a
  sample is frames ``idx + 40 .. idx + 74``: 10 observed frames then 25 future frames (1 s).
  Eight windows per trial is a thin and noisy sample, so PGBIG's released evaluation also
  scores every window (``all``): starts 0, 1, ..., n - 35, i.e. n - 34 windows per trial.
- Metric: MPJPE (mean Euclidean joint error, mm) over the 25 joints at future frames
  2, 4, 8, 10, 14 and 25, i.e. 80, 160, 320, 400, 560 and 1000 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nermo_ros.data import cmu
from nermo_ros.skeleton import JOINT_NAMES, LAYOUT_ID, NUM_JOINTS

PROTOCOL_LAYOUT_ID = "cmu_protocol25"
IGNORED_CMU_JOINTS = (0, 1, 2, 7, 8, 13, 16, 20, 24, 27, 29, 33, 36)
PROTOCOL_JOINTS = tuple(j for j in range(cmu.NUM_CMU_JOINTS) if j not in IGNORED_CMU_JOINTS)
NUM_PROTOCOL_JOINTS = len(PROTOCOL_JOINTS)  # 25

INPUT_FRAMES = 10
OUTPUT_FRAMES = 25
SOURCE_SEQ_LEN = 50  # the public code draws 50 + 25 frames and keeps the last 10 + 25
WINDOW_FRAMES = INPUT_FRAMES + OUTPUT_FRAMES  # 35
SAMPLES_PER_TRIAL = 8
SAMPLINGS = ("protocol8", "all")
SAMPLE_SEED = 1234567890
FRAME_PERIOD_S = 1.0 / cmu.PROTOCOL_FRAME_RATE_HZ  # 0.04 s
EVAL_HORIZONS_MS = (80, 160, 320, 400, 560, 1000)
EVAL_FRAME_INDEX = tuple(int(round(ms / 1000.0 / FRAME_PERIOD_S)) - 1 for ms in EVAL_HORIZONS_MS)

LAYOUT_NUM_JOINTS = {PROTOCOL_LAYOUT_ID: NUM_PROTOCOL_JOINTS, LAYOUT_ID: NUM_JOINTS}


def sample_starts(num_frames: int) -> np.ndarray:
    """The protocol's 8 start indices for a downsampled trial of ``num_frames`` frames."""
    total = SOURCE_SEQ_LEN + OUTPUT_FRAMES
    if num_frames <= total:
        raise ValueError(f"a trial needs more than {total} frames at 25 Hz for the protocol, "
                         f"got {num_frames}")
    rng = np.random.RandomState(SAMPLE_SEED)
    return np.array([rng.randint(0, num_frames - total) for _ in range(SAMPLES_PER_TRIAL)])


def window_starts(num_frames: int, sampling: str = "protocol8") -> np.ndarray:
    """First frame of every 35-frame sample (10 observed + 25 future) of a downsampled trial:
    the 8 seeded draws (``protocol8``) or every window with stride 1 (``all``)."""
    if sampling == "protocol8":
        return sample_starts(num_frames) + (SOURCE_SEQ_LEN - INPUT_FRAMES)
    if sampling == "all":
        if num_frames < WINDOW_FRAMES:
            raise ValueError(f"a trial needs at least {WINDOW_FRAMES} frames at 25 Hz for one "
                             f"window, got {num_frames}")
        return np.arange(num_frames - WINDOW_FRAMES + 1)
    raise ValueError(f"unknown sampling {sampling!r}; choose one of {SAMPLINGS}")


def sample_windows(sequence: np.ndarray, sampling: str = "protocol8") -> np.ndarray:
    """(n, J, 3) downsampled sequence -> (S, 35, J, 3) samples (10 in + 25 out)."""
    starts = window_starts(len(sequence), sampling)
    return np.asarray(sequence)[starts[:, None] + np.arange(WINDOW_FRAMES)]


@dataclass(frozen=True)
class LayoutData:
    """How one layout's sequences are made from a CMU trial (see ``trial_positions_m``)."""

    layout: str
    global_motion: bool
    unit_mm: float | None


LAYOUT_DATA = {
    # The benchmark's own convention: root-relative, fixed facing, units x70.
    PROTOCOL_LAYOUT_ID: LayoutData(PROTOCOL_LAYOUT_ID, global_motion=False, unit_mm=None),
    # True metric size, as the camera sees people. Root-relative as well: the root rotation of
    # some trials jumps by tens of degrees between frames (directing_traffic_1 near frame
    # 2720), which global motion would turn into metre-sized teleports of the whole body.
    LAYOUT_ID: LayoutData(LAYOUT_ID, global_motion=False, unit_mm=cmu.METRIC_UNIT_MM),
}


# How the public evaluation code (LTD and its successors) averages over all 38 joints: it puts
# the 25 predicted joints into a copy of the ground truth, copies the prediction of joint 15 to
# 16, 20 and 29, of 23 to 24 and 27, of 32 to 33 and 36 (the same points in the data), and
# takes the mean over 38 joints; the root and the 5 fixed hip/spine points add zero error.
_PUBLIC_CODE_COPIES = {15: (16, 20, 29), 23: (24, 27), 32: (33, 36)}


def public_code_mpjpe_per_sample(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(S, H, 25, 3) x2 protocol joints -> (S, H) MPJPE averaged over 38 joints as the public
    code does, which is what papers (NeRMo's included) report for CMU-Mocap."""
    err = np.linalg.norm(np.asarray(pred) - np.asarray(target), axis=-1)  # (S, H, 25)
    weight = np.ones(NUM_PROTOCOL_JOINTS)
    for joint, copies in _PUBLIC_CODE_COPIES.items():
        weight[PROTOCOL_JOINTS.index(joint)] += len(copies)
    return (err * weight).sum(axis=-1) / cmu.NUM_CMU_JOINTS


def public_code_mpjpe_per_frame(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(S, H, 25, 3) x2 -> (H,): ``public_code_mpjpe_per_sample`` averaged over the samples."""
    return public_code_mpjpe_per_sample(pred, target).mean(axis=0)


# Left-right mirror images (training augmentation): CMU joints 1-6 and 7-12 are the two legs,
# 20-28 and 29-37 the two arms; the spine maps to itself.
_CMU_MIRROR = tuple(
    j + 6 if 1 <= j <= 6 else j - 6 if 7 <= j <= 12 else
    j + 9 if 20 <= j <= 28 else j - 9 if 29 <= j <= 37 else j
    for j in range(cmu.NUM_CMU_JOINTS))


def mirror_map(layout: str) -> tuple[tuple[int, ...], int]:
    """(joint permutation, lateral axis) that turn a pose of ``layout`` into its mirror image:
    swap left and right joints, negate the lateral coordinate (CMU x; REP-103 y)."""
    if layout == PROTOCOL_LAYOUT_ID:
        return tuple(PROTOCOL_JOINTS.index(_CMU_MIRROR[j]) for j in PROTOCOL_JOINTS), 0
    if layout == LAYOUT_ID:
        swapped = [n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")
                   for n in JOINT_NAMES]
        return tuple(JOINT_NAMES.index(n) for n in swapped), 1
    raise ValueError(f"unknown layout {layout!r}; choose one of {sorted(LAYOUT_DATA)}")


def trial_positions_m(frames: np.ndarray, skeleton: cmu.CmuSkeleton, layout: str) -> np.ndarray:
    """(T, 117) exponential maps -> (T, J, 3) metres in ``layout`` (no downsampling)."""
    if layout not in LAYOUT_DATA:
        raise ValueError(f"unknown layout {layout!r}; choose one of {sorted(LAYOUT_DATA)}")
    spec = LAYOUT_DATA[layout]
    pos_mm = cmu.expmap_to_positions_mm(frames, skeleton, global_motion=spec.global_motion,
                                        unit_mm=spec.unit_mm)
    if layout == PROTOCOL_LAYOUT_ID:
        return pos_mm[:, list(PROTOCOL_JOINTS)] / 1000.0
    return cmu.to_canonical_m(pos_mm)
