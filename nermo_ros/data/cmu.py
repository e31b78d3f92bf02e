"""CMU mocap in exponential-map form -> 38 joint positions -> the canonical 17-joint skeleton.

The files are those of the public CMU motion-prediction benchmark: one frame per line, 117
comma-separated numbers (root position, then one exponential-map rotation per joint of the
38-joint tree in ``skeleton.json``).

Conventions of the public loaders, which this module follows so that numbers compare with the
literature (LTD, "Learning Trajectory Dependencies", Mao et al. ICCV 2019, and MSR-GCN and
PGBIG, which reuse its data code):

- Bone offsets are multiplied by 70 (``offset_scale`` in skeleton.json) and the result is
  treated as millimetres.
- Forward kinematics uses row vectors: a joint sits at ``offset @ R_parent + p_parent`` and its
  global rotation is ``R_local @ R_parent``.
- Their batched forward kinematics drops the root position (columns 0-2) and never composes the
  root joint's rotation into its children, so every pose is expressed root-relative with a
  fixed facing direction. That is ``global_motion=False`` here (the default). With
  ``global_motion=True`` the root rotation and position (in the same units as the offsets) are
  applied as well, so a walking person moves through the room.
- They read every second line (``range(0, n, 2)``) and evaluate 25 frames as 1000 ms, i.e. the
  files are taken as 50 Hz and the downsampled sequences as 25 Hz. The files carry no rate; the
  gait cycle in the walking trials (about 70 lines) gives a plausible 1.4 s at 50 Hz.
- The older numpy forward kinematics these loaders descend from (Martinez et al., CVPR 2017)
  swaps the y and z columns of its output for its plots; LTD's batched version does not. That
  swap is a mirror; it is not used here. The native frame has x on the person's left, y up
  and z forward (a right-handed frame), and ``to_canonical_m`` turns it into REP-103 axes by a
  proper rotation, so a left joint stays on the person's left.

Scale: the factor 70 makes people about 1.24 times their real size (the CMU skeleton files state
one unit = 1/0.45 inch = 56.4 mm). Pass ``unit_mm=METRIC_UNIT_MM`` for true metric size, e.g.
when mixing with camera data; keep the default to compare with published millimetre errors.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nermo_ros.data.clip import Clip
from nermo_ros.skeleton import CMU_TO_CANONICAL, NUM_CMU_JOINTS, map_positions

NUM_COLUMNS = 3 + 3 * NUM_CMU_JOINTS  # 117
RAW_FRAME_RATE_HZ = 50.0
PROTOCOL_DOWNSAMPLE = 2
PROTOCOL_FRAME_RATE_HZ = RAW_FRAME_RATE_HZ / PROTOCOL_DOWNSAMPLE  # 25 Hz
PROTOCOL_UNIT_MM = 70.0
METRIC_UNIT_MM = 25.4 / 0.45
ENV_VAR = "NERMO_CMU_DIR"

# Native CMU axes (x = person's left, y = up, z = forward) -> REP-103 (x forward, y left, z up).
# A cyclic permutation: determinant +1, so no mirroring.
CMU_TO_BODY_AXES = np.array([[0.0, 0.0, 1.0],
                             [1.0, 0.0, 0.0],
                             [0.0, 1.0, 0.0]])

_TRIAL_RE = re.compile(r"^(?P<action>.+)_(?P<n>\d+)\.txt(\.gz)?$")


@dataclass(frozen=True)
class CmuSkeleton:
    """parents: (38,) int, -1 for the root; offsets: (38, 3) bone offsets before scaling."""

    parents: np.ndarray
    offsets: np.ndarray
    offset_scale: float = PROTOCOL_UNIT_MM


def default_data_dir() -> Path:
    """$NERMO_CMU_DIR, else ``<repo>/../shared/data/cmu_mocap``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cmu_mocap"


def find_skeleton_json(data_dir: str | Path) -> Path:
    """skeleton.json in DIR or its parent (DIR may be the data root or its train/ folder)."""
    data_dir = Path(data_dir)
    for candidate in (data_dir / "skeleton.json", data_dir.parent / "skeleton.json"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no skeleton.json in {data_dir} or {data_dir.parent}; point {ENV_VAR} (or the data "
        "directory argument) at the CMU mocap folder that holds skeleton.json and train/")


def load_skeleton(path: str | Path) -> CmuSkeleton:
    """Read and check skeleton.json (38 parents, 38 offsets, parents before children)."""
    raw = json.loads(Path(path).read_text())
    parents = np.asarray(raw["parents"], dtype=np.int64)
    offsets = np.asarray(raw["offsets"], dtype=np.float64)
    if parents.shape != (NUM_CMU_JOINTS,) or offsets.shape != (NUM_CMU_JOINTS, 3):
        raise ValueError(f"{path}: expected {NUM_CMU_JOINTS} parents and offsets, got "
                         f"{parents.shape} and {offsets.shape}")
    if parents[0] != -1 or np.any(parents[1:] >= np.arange(1, NUM_CMU_JOINTS)):
        raise ValueError(f"{path}: joint 0 must be the root and every parent must precede its "
                         f"child; parents = {parents.tolist()}")
    scale = float(raw.get("offset_scale", PROTOCOL_UNIT_MM))
    return CmuSkeleton(parents=parents, offsets=offsets, offset_scale=scale)


def read_expmap_file(path: str | Path) -> np.ndarray:
    """(T, 117) float64 from a ``.txt`` or ``.txt.gz`` file; blank lines are skipped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        rows = [line.split(",") for line in f if line.strip()]
    bad = [i for i, r in enumerate(rows) if len(r) != NUM_COLUMNS]
    if bad:
        raise ValueError(f"{path}: line {bad[0] + 1} has {len(rows[bad[0]])} numbers, expected "
                         f"{NUM_COLUMNS}; is this a CMU exponential-map file?")
    if not rows:
        raise ValueError(f"{path}: no frames")
    return np.asarray(rows, dtype=np.float64)


def expmap_to_rotmat(r: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: (..., 3) axis*angle -> (..., 3, 3)."""
    norm = np.linalg.norm(r, axis=-1, keepdims=True)
    axis = np.divide(r, norm, out=np.zeros_like(r), where=norm > 0)  # no rotation: any axis
    theta = norm[..., None]
    k = np.zeros(r.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2] = -axis[..., 2], axis[..., 1]
    k[..., 1, 0], k[..., 1, 2] = axis[..., 2], -axis[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -axis[..., 1], axis[..., 0]
    return np.eye(3) + np.sin(theta) * k + (1.0 - np.cos(theta)) * (k @ k)


def expmap_to_positions_mm(frames: np.ndarray, skeleton: CmuSkeleton, *,
                           global_motion: bool = False,
                           unit_mm: float | None = None) -> np.ndarray:
    """(T, 117) exponential maps -> (T, 38, 3) joint positions in the native CMU frame.

    ``unit_mm`` defaults to the skeleton's offset scale (70, the benchmark's). See the module
    docstring for ``global_motion``.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != NUM_COLUMNS:
        raise ValueError(f"expected (T, {NUM_COLUMNS}) frames, got {frames.shape}")
    unit = skeleton.offset_scale if unit_mm is None else unit_mm
    local = expmap_to_rotmat(frames[:, 3:].reshape(len(frames), NUM_CMU_JOINTS, 3))
    offsets = skeleton.offsets * unit
    pos = np.zeros((len(frames), NUM_CMU_JOINTS, 3))
    rot = np.empty_like(local)
    rot[:, 0] = local[:, 0] if global_motion else np.eye(3)
    pos[:, 0] = frames[:, :3] * unit if global_motion else offsets[0]
    for j in range(1, NUM_CMU_JOINTS):
        p = skeleton.parents[j]
        pos[:, j] = offsets[j] @ rot[:, p] + pos[:, p]
        rot[:, j] = local[:, j] @ rot[:, p]
    return pos


def to_canonical_m(pos38_mm: np.ndarray) -> np.ndarray:
    """(..., 38, 3) native-frame millimetres -> (..., 17, 3) canonical joints, metres, REP-103."""
    canonical = map_positions(CMU_TO_CANONICAL, np.asarray(pos38_mm, dtype=np.float64))
    return canonical @ CMU_TO_BODY_AXES.T / 1000.0


def trial_number(path: Path) -> int:
    match = _TRIAL_RE.match(path.name)
    if not match:
        raise ValueError(f"{path.name}: not named <action>_<n>.txt[.gz]")
    return int(match["n"])


def list_trials(root: str | Path) -> dict[str, list[Path]]:
    """{action folder: trial files sorted by trial number} from ``root`` or ``root/train``.

    When a trial exists both as .txt and .txt.gz, the plain file is used.
    """
    root = Path(root)
    if not any(root.glob("*/*.txt*")) and (root / "train").is_dir():
        root = root / "train"
    trials: dict[str, list[Path]] = {}
    for action_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        by_name: dict[str, Path] = {}
        for f in sorted(action_dir.iterdir()):
            if _TRIAL_RE.match(f.name):
                stem = f.name.removesuffix(".gz")
                if stem not in by_name or f.suffix != ".gz":
                    by_name[stem] = f
        if by_name:
            trials[action_dir.name] = sorted(by_name.values(), key=trial_number)
    if not trials:
        raise FileNotFoundError(f"no <action>/<action>_<n>.txt[.gz] files under {root}")
    return trials


def heldout_split(trials: dict[str, list[Path]]
                  ) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(train, validation): the lowest-numbered trial of every action is held out.

    An action with a single trial keeps it for training (it then has no validation trial).
    The validation trials never appear in the training dict.
    """
    train: dict[str, list[Path]] = {}
    validation: dict[str, list[Path]] = {}
    for action, files in trials.items():
        ordered = sorted(files, key=trial_number)
        if len(ordered) < 2:
            train[action] = list(ordered)
            continue
        validation[action] = ordered[:1]
        train[action] = ordered[1:]
    return train, validation


def load_trial(path: str | Path, skeleton: CmuSkeleton, *,
               downsample: int = PROTOCOL_DOWNSAMPLE, global_motion: bool = False,
               unit_mm: float | None = None) -> Clip:
    """One trial as a canonical Clip at RAW_FRAME_RATE_HZ / downsample (25 Hz by default)."""
    frames = read_expmap_file(path)[::downsample]
    pos = to_canonical_m(expmap_to_positions_mm(frames, skeleton, global_motion=global_motion,
                                                unit_mm=unit_mm))
    times = np.arange(len(frames)) * (downsample / RAW_FRAME_RATE_HZ)
    return Clip(times_s=times, positions_m=pos, name=Path(path).name.split(".")[0])
