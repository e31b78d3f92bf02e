"""Run every method on the same samples and the same missing-data masks, and score them.

Settings: complete observations, 20 % and 40 % of the observed (frame, joint) entries missing
at random, and 3 of the 9 older frames missing (the newest frame stays). Masks come from a
fixed seed, so every method and every run sees the same ones.

Scoring keeps each sample's error at the protocol horizons (``Errors``) rather than the
forecasts: every window of every trial (``sampling="all"``) then fits in memory, and the
errors of several cross-validation folds pool by concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from nermo_ros.data import cmu
from nermo_ros.evaluation import protocol
from nermo_ros.evaluation.methods import Method, window_batch
from nermo_ros.evaluation.metrics import mpjpe_per_sample

MASK_SEED = 20240923
CHUNK_WINDOWS = 4096  # windows forecast at once; only their errors are kept


@dataclass(frozen=True)
class Setting:
    name: str
    joint_missing: float = 0.0  # fraction of (frame, joint) entries hidden
    frames_missing: int = 0  # older frames hidden

    def observer(self, samples: "Samples"):
        """slice of windows -> their observed WindowBatch under this setting's masks."""
        mask = observation_mask(len(samples), samples.frames_m.shape[1], self)
        return lambda index: window_batch(
            samples.windows_m(index)[:, :protocol.INPUT_FRAMES], mask[index])


SETTINGS = (
    Setting("complete"),
    Setting("missing_joints_20", joint_missing=0.2),
    Setting("missing_joints_40", joint_missing=0.4),
    Setting("missing_frames_3of9", frames_missing=3),
)


@dataclass(frozen=True)
class Samples:
    """35-frame windows (10 observed + 25 future, metres) of one layout, kept as the trials'
    frames plus each window's first frame, and the action of each window. ``trial_first``:
    the first frame of each window's trial (how far back a slower camera may look);
    ``trials``: each window's trial name, for per-trial tables (one action's trials differ
    more than the actions' averages show)."""

    frames_m: np.ndarray  # (N, J, 3) the trials' 25 Hz frames, concatenated
    starts: np.ndarray  # (S,) index into frames_m of each window's first frame
    actions: list[str]  # (S,)
    trial_first: np.ndarray | None = None  # (S,) index into frames_m; None: the window's start
    trials: list[str] | None = None  # (S,) e.g. "walking_3"; None: not from trial files

    @classmethod
    def from_windows(cls, windows_m: np.ndarray, actions: list[str]) -> "Samples":
        """Samples from (S, 35, J, 3) windows."""
        s, t = windows_m.shape[:2]
        frames = windows_m.reshape((s * t,) + windows_m.shape[2:])
        return cls(frames, np.arange(s) * t, list(actions))

    def __len__(self) -> int:
        return len(self.starts)

    def first_frames(self) -> np.ndarray:
        """(S,) the earliest frame of each window's trial."""
        return self.starts if self.trial_first is None else self.trial_first

    def windows_m(self, index=slice(None)) -> np.ndarray:
        """(s, 35, J, 3) the selected windows."""
        return self.frames_m[self.starts[index][:, None] + np.arange(protocol.WINDOW_FRAMES)]


def load_sequences(trials: dict[str, list[Path]], skeleton: cmu.CmuSkeleton,
                   layout: str) -> dict[Path, np.ndarray]:
    """{trial file: (n, J, 3) metres at 25 Hz}, converted once for every sampling and fold."""
    sequences = {}
    for files in trials.values():
        for path in files:
            frames = cmu.read_expmap_file(path)[::cmu.PROTOCOL_DOWNSAMPLE]
            sequences[path] = protocol.trial_positions_m(frames, skeleton, layout)
    return sequences


def cut_samples(trials: dict[str, list[Path]], sequences: dict[Path, np.ndarray],
                sampling: str = "protocol8") -> Samples:
    """The samples of ``trials`` ({action: files}) under ``sampling`` (protocol.SAMPLINGS)."""
    chunks, starts, actions, trial_first, names, offset = [], [], [], [], [], 0
    for action, files in trials.items():
        for path in files:
            sequence = sequences[path]
            first = protocol.window_starts(len(sequence), sampling)
            chunks.append(sequence)
            starts.append(first + offset)
            trial_first.append(np.full(len(first), offset))
            actions += [action] * len(first)
            names += [trial_name(path)] * len(first)
            offset += len(sequence)
    if not chunks:
        raise ValueError("no trials to cut samples from; check the data folder and the folds")
    return Samples(np.concatenate(chunks), np.concatenate(starts), actions,
                   np.concatenate(trial_first), names)


def trial_name(path) -> str:
    """``walking_3`` for ``.../walking/walking_3.txt`` or ``.txt.gz``."""
    return Path(path).name.split(".")[0]


def load_samples(trials: dict[str, list[Path]], skeleton: cmu.CmuSkeleton, layout: str,
                 sampling: str = "protocol8") -> Samples:
    return cut_samples(trials, load_sequences(trials, skeleton, layout), sampling)


def observation_mask(num_samples: int, num_joints: int, setting: Setting) -> np.ndarray:
    """(S, 10, J) bool, True = observed; the same for every method."""
    rng = np.random.RandomState(MASK_SEED + SETTINGS.index(setting))
    t = protocol.INPUT_FRAMES
    mask = rng.random_sample((num_samples, t, num_joints)) >= setting.joint_missing
    if setting.frames_missing:
        for s in range(num_samples):
            hidden = rng.choice(t - 1, size=setting.frames_missing, replace=False)
            mask[s, hidden] = False
    return mask


Metric = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (S, H, J, 3) x2 -> (S, H)


def layout_metrics(layout: str) -> dict[str, Metric]:
    """``mpjpe_mm``: the mean over the layout's joints (25 or 17); for the protocol layout also
    ``public38_mm``: the mean over 38 joints as the public code takes it (what papers report)."""
    metrics = {"mpjpe_mm": mpjpe_per_sample}
    if layout == protocol.PROTOCOL_LAYOUT_ID:
        metrics["public38_mm"] = protocol.public_code_mpjpe_per_sample
    return metrics


@dataclass(frozen=True)
class Errors:
    """Each sample's error (mm) at the protocol horizons, the sample's action and its trial."""

    actions: list[str]  # (S,)
    mm: dict  # {metric: {setting: {method: (S, 6) array}}}
    trials: list[str] | None = None  # (S,); None: samples not cut from trial files


def sample_errors(samples: Samples, methods: dict[str, Method], metrics: dict[str, Metric],
                  settings=SETTINGS, chunk: int = CHUNK_WINDOWS) -> Errors:
    """Forecast ``chunk`` windows at a time with every method and keep only their errors.

    A setting is anything with a ``name`` and ``observer(samples)``, which gives the observed
    WindowBatch of a slice of windows (``Setting``: masks; ``noisy_windows.NoiseSetting``:
    a camera's noise and timing); the future is always the clean one."""
    idx = list(protocol.EVAL_FRAME_INDEX)
    parts = {m: {s.name: {n: [] for n in methods} for s in settings} for m in metrics}
    for setting in settings:
        observe = setting.observer(samples)
        for first in range(0, len(samples), chunk):
            sl = slice(first, first + chunk)
            future = samples.windows_m(sl)[:, protocol.INPUT_FRAMES:]
            batch = observe(sl)
            for name, method in methods.items():
                pred = method(batch)
                for metric, fn in metrics.items():
                    parts[metric][setting.name][name].append(fn(pred, future)[:, idx] * 1000.0)
    mm = {m: {s: {n: np.concatenate(v) for n, v in per.items()} for s, per in by_setting.items()}
          for m, by_setting in parts.items()}
    return Errors(list(samples.actions), mm,
                  None if samples.trials is None else list(samples.trials))


def pool(parts: list[Errors]) -> Errors:
    """The errors of several runs (cross-validation folds) as one set of samples."""
    first = parts[0].mm
    for part in parts[1:]:
        for metric, by_setting in first.items():
            theirs = part.mm.get(metric, {})
            for setting, by_method in by_setting.items():
                other = sorted(theirs.get(setting, {}))
                if other != sorted(by_method):
                    raise ValueError(f"cannot pool runs whose methods differ: {sorted(by_method)} "
                                     f"against {other} ({metric}, {setting})")
    mm = {m: {s: {n: np.concatenate([p.mm[m][s][n] for p in parts]) for n in per}
              for s, per in by_setting.items()} for m, by_setting in first.items()}
    trials = (None if any(p.trials is None for p in parts)
              else [t for p in parts for t in p.trials])
    return Errors([a for p in parts for a in p.actions], mm, trials)


def tables(errors: Errors) -> dict:
    """{metric: {setting: {method: {action: [mm at each horizon], "average": [...]}}}}: the
    mean over each action's samples, and the plain mean over actions (as the papers average)."""
    actions = sorted(set(errors.actions))
    labels = np.asarray(errors.actions)
    out: dict = {}
    for metric, by_setting in errors.mm.items():
        out[metric] = {}
        for setting, by_method in by_setting.items():
            out[metric][setting] = {}
            for name, err in by_method.items():
                rows = {a: err[labels == a].mean(axis=0).tolist() for a in actions}
                rows["average"] = np.mean([rows[a] for a in actions], axis=0).tolist()
                out[metric][setting][name] = rows
    return out


def trial_tables(errors: Errors) -> dict:
    """``{"actions": {trial: action}, "samples": {trial: count}, metric: {setting: {method:
    {trial: [mm at each horizon]}}}}``, trials in the order of their actions, then by
    number; {} when the samples carry no trial names."""
    if errors.trials is None:
        return {}
    labels = np.asarray(errors.trials)
    action_of = dict(zip(errors.trials, errors.actions))
    order = sorted(action_of, key=lambda t: (action_of[t], _trial_number(t), t))
    out: dict = {"actions": {t: action_of[t] for t in order},
                 "samples": {t: int((labels == t).sum()) for t in order}}
    for metric, by_setting in errors.mm.items():
        out[metric] = {setting: {name: {t: err[labels == t].mean(axis=0).tolist() for t in order}
                                 for name, err in by_method.items()}
                       for setting, by_method in by_setting.items()}
    return out


def _trial_number(trial: str) -> int:
    tail = trial.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def summary(errors: Errors) -> dict:
    """Sample counts, the tables of one run (the JSON of one layout and sampling) and, where
    the samples name their trials, the same per trial (``per_trial``)."""
    counts = {a: errors.actions.count(a) for a in sorted(set(errors.actions))}
    out = {"samples": len(errors.actions), "samples_per_action": counts, **tables(errors)}
    per_trial = trial_tables(errors)
    if per_trial:
        out["per_trial"] = per_trial
    return out


def evaluate(samples: Samples, methods: dict[str, Method], settings=SETTINGS,
             metrics: dict[str, Metric] | None = None) -> dict:
    """{setting: {method: {action: [...], "average": [...]}}} of the mean joint error."""
    metrics = metrics or {"mpjpe_mm": mpjpe_per_sample}
    return tables(sample_errors(samples, methods, metrics, settings))[next(iter(metrics))]


def complete_errors_m(samples: Samples, method: Method) -> np.ndarray:
    """(25, J) mean error in metres per future frame and joint, complete observations."""
    windows = samples.windows_m()
    obs_m = windows[:, :protocol.INPUT_FRAMES]
    pred = method(window_batch(obs_m, np.ones(obs_m.shape[:3], dtype=bool)))
    return np.linalg.norm(pred - windows[:, protocol.INPUT_FRAMES:], axis=-1).mean(axis=0)
