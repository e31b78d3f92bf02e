"""Training configuration: one dataclass tree, read from a YAML file in ``config/``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import yaml

from nermo_ros.data.cmu import RAW_FRAME_RATE_HZ
from nermo_ros.model import ModelConfig
from nermo_ros.paths import existing_or_packaged
from nermo_ros.skeleton import LAYOUT_ID


@dataclass(frozen=True)
class WindowConfig:
    """How training windows are cut from the 50 Hz trials and how much of them is hidden."""

    obs_frames: int = 10
    obs_step_raw: int = 2  # raw 50 Hz frames between observed frames (2: 25 Hz)
    future_frames: int = 25
    future_step_raw: int = 2
    joint_drop_max: float = 0.5  # per window, a missing-joint rate drawn from U(0, max)
    frame_drop_max: float = 0.5  # per window, a missing-frame rate (the newest frame stays)
    # Per drop kind (joints, frames), the share of windows it spares; drawn apart, so a share
    # of fraction² is fully complete (docs/model.md).
    complete_fraction: float = 0.3
    random_yaw: bool = False  # rotate windows about the vertical axis (canonical skeleton)
    # Augmentation against overfitting the few training subjects: mirror half of the windows
    # left-right, scale each window's size by U(1 - s, 1 + s), play it at U(1 - v, 1 + v) times
    # its speed (frames interpolated), with s = scale_jitter and v = speed_jitter.
    mirror: bool = False
    scale_jitter: float = 0.0
    speed_jitter: float = 0.0
    # Per action folder, a speed jitter of its own in place of speed_jitter ({action: v}):
    # actions with few trials whose takes differ most in tempo (a test trial's player may be
    # faster or slower than any training one) can be shown a wider range than the rest.
    speed_jitter_actions: dict = field(default_factory=dict)
    # Other bodies' proportions (canonical skeleton only): each bone of a window scaled by its
    # own U(1 - b, 1 + b), b = bone_scale_jitter, the same in the observed and the future
    # frames, so the model keeps the proportions it is shown. A camera's skeleton differs from
    # the mocap subjects' by 13-34 % per bone (MediaPipe's torso, feet, shins); a model trained
    # without this pulls such a body toward the mocap proportions (BENCHMARKS.md).
    bone_scale_jitter: float = 0.0
    # What a camera delivers (docs/model.md, "Perception noise"): observed frames at a rate
    # drawn per window from frame_rates_hz (empty: every obs_step_raw raw frames), stamps
    # straying by N(0, timestamp_jitter_s), and in perception_noise_share of the windows the
    # measured skeleton noise of the perception_noise YAML (e.g. config/perception_noise.yaml;
    # empty: none). A list of YAMLs is a set of noise profiles (e.g. one per camera setting):
    # each noisy window draws one of them with equal odds, so the model sees each setting's
    # noise whole instead of one pooled average.
    frame_rates_hz: tuple[float, ...] = ()
    timestamp_jitter_s: float = 0.0
    perception_noise: str | tuple[str, ...] = ""
    perception_noise_share: float = 1.0
    # How windows are drawn across action folders: an action with n windows gets odds
    # proportional to n ** (1 - action_balance). 0: every window alike, so long actions
    # dominate; 1: every action alike, as the benchmark's average over actions weighs them.
    action_balance: float = 0.0
    # Windows played backwards, for actions whose motion reads as well in reverse (arm signals,
    # gestures; not gait, whose foot contacts would run backwards): in time_reverse_share of the
    # windows of the action folders time_reverse_actions names (empty: every action) the same
    # frames run from the last to the first, so a trial shows twice the motion it holds.
    time_reverse_share: float = 0.0
    time_reverse_actions: tuple[str, ...] = ()
    # Per action folder, copies of its trials with every gesture wider or narrower
    # ({action: [factor, ...]}, training/amplitude.py): each joint's rotation moved factor times
    # as far from its amplitude_pivot_s moving average, for actions whose takes differ in extent
    # more than their few trials show. The copies share their action's draw odds with its
    # trials, so the action is drawn as often as without them.
    amplitude_copies_actions: dict = field(default_factory=dict)
    amplitude_pivot_s: float = 2.0

    def __post_init__(self):
        if not all(0.0 <= v < 1.0 for v in (self.scale_jitter, self.speed_jitter,
                                             self.bone_scale_jitter)):
            raise ValueError("window: scale_jitter, speed_jitter and bone_scale_jitter must lie "
                             "in [0, 1)")
        if not isinstance(self.speed_jitter_actions, dict) or not all(
                isinstance(name, str) and isinstance(v, (int, float)) and 0.0 <= v < 1.0
                for name, v in self.speed_jitter_actions.items()):
            raise ValueError("window: speed_jitter_actions maps action folders to their speed "
                             "jitter in [0, 1), e.g. {basketball: 0.25}; got "
                             f"{self.speed_jitter_actions!r}")
        if any(r <= 0 for r in self.frame_rates_hz):
            raise ValueError(f"window: frame_rates_hz {list(self.frame_rates_hz)} must be "
                             "positive camera rates, e.g. [10, 15, 25, 30]")
        if self.timestamp_jitter_s < 0:
            raise ValueError(f"window: timestamp_jitter_s {self.timestamp_jitter_s} must be >= 0")
        if not isinstance(self.amplitude_copies_actions, dict) or not all(
                isinstance(name, str) and isinstance(factors, (list, tuple)) and factors
                and all(isinstance(f, (int, float)) and f > 0 for f in factors)
                for name, factors in self.amplitude_copies_actions.items()):
            raise ValueError("window: amplitude_copies_actions maps action folders to lists of "
                             "positive amplitude factors, e.g. {directing_traffic: [0.7, 1.4]}; "
                             f"got {self.amplitude_copies_actions!r}")
        if self.amplitude_pivot_s <= 0:
            raise ValueError(f"window: amplitude_pivot_s {self.amplitude_pivot_s} must be > 0")
        if not 0.0 <= self.action_balance <= 1.0:
            raise ValueError(f"window: action_balance {self.action_balance} must lie in [0, 1] "
                             "(0: every window alike, 1: every action alike)")
        if isinstance(self.time_reverse_actions, (list, str)):  # read from YAML
            names = self.time_reverse_actions
            object.__setattr__(self, "time_reverse_actions",
                               (names,) if isinstance(names, str) else tuple(names))
        if not 0.0 <= self.time_reverse_share <= 1.0:
            raise ValueError(f"window: time_reverse_share {self.time_reverse_share} must lie in "
                             "[0, 1]")
        if self.time_reverse_actions and not self.time_reverse_share:
            raise ValueError("window: time_reverse_actions names actions to play backwards, but "
                             "time_reverse_share is 0; give the share of their windows")
        if self.time_reverse_share and self.camera_like:
            raise ValueError("window: time_reverse_share applies to clean windows; windows drawn "
                             "as a camera delivers them (frame_rates_hz, timestamp_jitter_s, "
                             "perception_noise) do not take it")
        if not 0.0 <= self.perception_noise_share <= 1.0:
            raise ValueError(f"window: perception_noise_share {self.perception_noise_share} "
                             "must lie in [0, 1]")
        if isinstance(self.perception_noise, list):  # read from YAML
            object.__setattr__(self, "perception_noise", tuple(self.perception_noise))
        if not all(isinstance(p, str) and p for p in self.noise_profiles):
            raise ValueError(f"window: perception_noise {self.perception_noise!r} must be a "
                             "YAML path or a list of YAML paths")

    @property
    def noise_profiles(self) -> tuple[str, ...]:
        """The perception noise YAMLs, one per profile (none without noise)."""
        if isinstance(self.perception_noise, str):
            return (self.perception_noise,) if self.perception_noise else ()
        return tuple(self.perception_noise)

    @property
    def camera_like(self) -> bool:
        """Observed frames are drawn as a camera delivers them (rates, stamps, noise)."""
        return bool(self.frame_rates_hz or self.timestamp_jitter_s or self.perception_noise)

    @property
    def obs_span_raw(self) -> float:
        """Raw frames from the oldest to the newest observed frame, at the slowest rate."""
        if not self.frame_rates_hz:
            return (self.obs_frames - 1) * self.obs_step_raw
        return (self.obs_frames - 1) * RAW_FRAME_RATE_HZ / min(self.frame_rates_hz)

    @property
    def max_speed_jitter(self) -> float:
        """The widest speed jitter any window may get (0: every window at its own speed)."""
        return max([self.speed_jitter, *self.speed_jitter_actions.values()])

    @property
    def amplitude_pivot_raw(self) -> int:
        """The amplitude copies' moving-average span in raw (50 Hz) frames."""
        return round(self.amplitude_pivot_s * RAW_FRAME_RATE_HZ)

    @property
    def span_raw(self) -> int:
        """Raw frames a window needs at the fastest playback speed (plus one to interpolate)."""
        nominal = self.obs_span_raw + self.future_frames * self.future_step_raw
        if self.max_speed_jitter == 0 and not self.frame_rates_hz:
            return int(nominal) + 1
        return math.ceil(nominal * (1.0 + self.max_speed_jitter)) + 2


@dataclass(frozen=True)
class OptimConfig:
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    grad_clip: float = 1.0
    # > 0: also stop after this many minutes, with the learning-rate schedule following
    # whichever of steps or time runs out first (for fixed GPU budgets; the run then
    # reproduces up to the step it reached, which the checkpoint records).
    max_minutes: float = 0.0
    # Share of every residual branch's entries dropped at random in the training loss, inner
    # steps included: a regulariser against learning the training trials by heart. Validation
    # and checkpoints run without it. dropout_scope says where: "all" (NeRMo's decoder and
    # history-encoder blocks), "encoder" (only the encoder's first guess of the modulation,
    # leaving the decoder's detail alone) or "decoder".
    dropout: float = 0.0
    dropout_scope: str = "all"

    DROPOUT_SCOPES = ("all", "encoder", "decoder")

    def __post_init__(self):
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"optim.dropout must be in [0, 1), got {self.dropout!r}")
        if self.dropout_scope not in self.DROPOUT_SCOPES:
            raise ValueError(f"optim.dropout_scope must be one of {self.DROPOUT_SCOPES}, "
                             f"got {self.dropout_scope!r}")

    def model_dropout(self) -> dict[str, float]:
        """The ModelConfig dropout fields the training loss runs with."""
        return {"dropout": self.dropout if self.dropout_scope in ("all", "decoder") else 0.0,
                "encoder_dropout": self.dropout if self.dropout_scope in ("all", "encoder")
                else 0.0}


@dataclass(frozen=True)
class MetaConfig:
    inner_steps: tuple[int, ...] = (1, 3, 5)  # drawn per batch so that any count works
    recon_weight: float = 0.1  # weight of the observed-window reconstruction in the outer loss
    eval_steps: int = 3  # adaptation steps for validation and the checkpoint's default
    # Future frame at time t weighs (t / t_last) ** -p in the forecast loss (mean 1 per
    # window): 0, every frame the same; p > 0 gives the short horizons a larger say.
    horizon_weight_power: float = 0.0
    # Added to those weights (then scaled back to mean 1): a uniform share that keeps the far
    # horizons in the loss at a high power. 0.25 gives the 1 s frame about the weight it has
    # at power 1 while the near frames keep most of what power 2 gives them.
    horizon_weight_floor: float = 0.0

    def __post_init__(self):
        for name in ("horizon_weight_power", "horizon_weight_floor"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"meta.{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class DctMlpConfig:
    """The siMLPe-style historical-value baseline (fixed frame rate, fixed window)."""

    width_blocks: int = 4
    hidden: int = 256


SPLITS = ("heldout", "fold", "all")


@dataclass(frozen=True)
class DataConfig:
    """Which trials train, and which validate at the end (stored in the checkpoint).

    - ``heldout``: all but the lowest-numbered trial of each action, which validates
      (``cmu.heldout_split``; the models shipped so far).
    - ``fold``: cross-validation fold ``fold`` of ``num_folds`` (``evaluation/folds.py``, seeded
      by ``fold_seed``): its training trials train, its validation trials validate. Stages of
      one fold must start from the same fold's weights.
    - ``all``: every trial trains (the models to ship once cross-validation chose the
      recipe); validation still runs on the held-out split, which is then training data, and
      says so.
    """

    split: str = "heldout"
    fold: int = 0
    num_folds: int = 5
    fold_seed: int = 0

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"data.split must be one of {SPLITS}, got {self.split!r}")
        if self.split == "fold" and not 0 <= self.fold < self.num_folds:
            raise ValueError(f"data.fold {self.fold} does not exist with data.num_folds "
                             f"{self.num_folds}; choose 0 .. {self.num_folds - 1}")


@dataclass(frozen=True)
class TrainConfig:
    kind: str = "nermo"  # "nermo" or "dct_mlp"
    seed: int = 0
    data_dir: str = ""  # empty: $NERMO_CMU_DIR or ../shared/data/cmu_mocap
    data: DataConfig = field(default_factory=DataConfig)
    # A checkpoint of the same kind and model config to start from (a second training stage
    # with its own schedule); empty: random initialisation.
    init_from: str = ""
    layout: str = "nermo_body17"
    window: WindowConfig = field(default_factory=WindowConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    meta: MetaConfig = field(default_factory=MetaConfig)
    dct_mlp: DctMlpConfig = field(default_factory=DctMlpConfig)
    log_every: int = 50
    save_every: int = 500

    def to_dict(self) -> dict:
        return asdict(self)


def _build(cls, values: dict, where: str):
    known = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name) if name in known else None
        if is_dataclass(default) and isinstance(value, dict):
            value = _build(type(default), value, f"{where}.{name}")
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def config_from_dict(values: dict, where: str = "config") -> TrainConfig:
    cfg = _build(TrainConfig, values, where)
    if cfg.kind not in ("nermo", "dct_mlp"):
        raise ValueError(f"{where}: kind must be nermo or dct_mlp, got {cfg.kind!r}")
    if cfg.model.dropout or cfg.model.encoder_dropout:
        raise ValueError(f"{where}: set dropout as optim.dropout (training only), not "
                         f"model.dropout, which the checkpoint would keep for inference")
    if cfg.optim.dropout and cfg.kind != "nermo":
        raise ValueError(f"{where}: optim.dropout applies to kind nermo only")
    if cfg.model.layout != cfg.layout:
        raise ValueError(f"{where}: model.layout {cfg.model.layout!r} differs from layout "
                         f"{cfg.layout!r}; set both to the skeleton you train for")
    if cfg.window.bone_scale_jitter > 0 and cfg.layout != LAYOUT_ID:
        raise ValueError(f"{where}: window.bone_scale_jitter needs the canonical skeleton "
                         f"(layout {LAYOUT_ID}), not {cfg.layout!r}")
    if cfg.model.encoder_blocks > 0 and cfg.model.encoder_frames != cfg.window.obs_frames:
        raise ValueError(f"{where}: model.encoder_frames ({cfg.model.encoder_frames}) must equal "
                         f"window.obs_frames ({cfg.window.obs_frames}), the frames it reads")
    return cfg


def load_config(path: str | Path, overrides: dict | None = None, label: str = "") -> TrainConfig:
    """The config file, with ``overrides`` ({section: {key: value}}, a recipe arm's changes)
    merged in section by section; ``label`` adds to where errors say they come from."""
    path = existing_or_packaged(path, "training config", "; see config/train_*.yaml")
    values = merge_sections(yaml.safe_load(path.read_text()) or {}, overrides or {})
    return config_from_dict(values, f"{path} {label}".strip())


def merge_sections(values: dict, overrides: dict) -> dict:
    """``values`` ({section: {key: value}}) with ``overrides`` merged in section by section;
    an override's key wins."""
    merged = dict(values)
    for section, changes in overrides.items():
        current = merged.get(section)
        merged[section] = {**current, **changes} if isinstance(current, dict) else changes
    return merged
