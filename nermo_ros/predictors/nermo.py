"""The NeRMo predictor: fit each person's modulation to their window, forecast, remember it.

Every call adapts each person's modulation z with a few gradient steps, starting from that
person's z of the previous frame pulled part of the way back to the learned z0 (warm start;
z0 for a new track): carried over unchanged, z drifts further each frame than the model was
meta-trained to adapt, which the warm-start study in BENCHMARKS.md measured as worse than a
cold start. Times are relative to the newest frame and positions to the window's origin
joint, so the previous z already speaks in the new frame's coordinates. Only the newest
``history_frames`` frames (the window length the model was trained on) enter the step, so the
compiled graph has one static shape whatever window the node keeps. With ``mirror_average``
(off by default: it doubles the engine time) each forecast is the mean of the window's and the unmirrored forecast of
its left-right mirror image (``nermo_ros.meta``), in the same compiled step. The step runs on an
engine (``nermo_ros.engine``) chosen by ``backend`` at construction: eager PyTorch by default,
or a compiled one; it can also be injected.

A camera's error persists over frames, so with a jittery window the forecast starts at the
newest report and hands over to the model within a few tenths of a second
(``forecasting/report_hold.py``); clean input keeps the model's forecast.

The models learned limb motion relative to the root (root-relative mocap), so the pose is
forecast relative to the root joint and the root's own travel by constant velocity
(``root_motion.py``); the two add, and so do their variances.

Uncertainty comes two ways. ``uncertainty_m`` (kept for compatibility) is the validation
error the checkpoint carries (per horizon and joint, measured on held-out mocap), as a per-axis
1-sigma: MPJPE / sqrt(8 / pi) is the sigma of an isotropic 3D Gaussian with that mean error; it
is the same for every forecast. ``radius_m`` depends on the forecast: the calibration shipped
beside the checkpoint (``forecasting/calibration.py``) turns the adaptation residual, speed,
erratic motion and missing joints of this window, and the root's travel, into a radius that
holds ``coverage`` of future positions. Without a calibration file the radius is the Gaussian
reading of the sigma, the message's coverage is 0 and ``radius_note`` (on /diagnostics) says
so. Joints never
seen in the window get ``unobserved_sigma_m`` and its Gaussian radius.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from nermo_ros.checkpoint import SHIPPED_DEFAULT, Checkpoint, load_checkpoint
from nermo_ros.data.cmu import RAW_FRAME_RATE_HZ
from nermo_ros.engine.factory import engine_for_choice
from nermo_ros.engine.program import nermo_program
from nermo_ros.engine.select import (DEFAULT_GPU_PRECISION, check_backend, check_gpu_precision,
                                     choose)
from nermo_ros.engine.spec import DEFAULT_BUCKETS
from nermo_ros.forecasting.calibration import (Calibration, check_coverage,
                                               gaussian_radius_factor)
from nermo_ros.forecasting.calibration_file import for_adaptation, load_calibrations, sidecar_path
from nermo_ros.forecasting.difficulty import FEATURE_NAMES as FEATURES
from nermo_ros.forecasting.difficulty import difficulty_features
from nermo_ros.forecasting.report_hold import (DEFAULT_HOLD_JITTER_M, DEFAULT_HOLD_TIME_S,
                                               check_hold, hold_key, hold_newest_report)
from nermo_ros.meta import prepare_window, restore
from nermo_ros.predictors.base import (DEFAULT_COVERAGE, DEFAULT_MIRROR_AVERAGE, ForecastBatch,
                                       WindowBatch)
from nermo_ros.predictors.baselines import ConstantVelocityPredictor
from nermo_ros.predictors.levelling import (DEFAULT_LEVEL_BODY, rotate, spine_of,
                                            upright_rotations)
from nermo_ros.predictors.root_motion import split_root
from nermo_ros.skeleton import LAYOUT_ID

# (obs_t, obs_x, obs_mask, z_init, query_t) float32 arrays -> (pred, z, recon), model units.
AdaptFn = Callable[..., tuple]
MEAN_NORM_PER_SIGMA = math.sqrt(8.0 / math.pi)
RMS_3D_PER_AXIS_SIGMA = math.sqrt(3.0)
# Frames a little older than the trained history still count (timestamp jitter).
WINDOW_SLACK_S = 0.03
# Share of the previous frame's fit kept in the next frame's starting z (warm-start study).
DEFAULT_WARM_START_BLEND = 0.25
# Frames per window for checkpoints that do not state their training window.
DEFAULT_HISTORY_FRAMES = 20
# A window denser than the model's fastest training rate would squeeze its history into a
# fraction of the time it learned to read (10 frames of a 60 Hz camera span 0.15 s): frames
# closer than this share of the fastest trained frame period to the newer frame kept are
# passed over, so the history keeps its trained span (a 60 Hz camera: every other frame).
TRAINED_SPACING_SHARE = 0.75


@dataclass(frozen=True)
class NermoForecast:
    """A forecast before its radius: what ``predict`` publishes and calibration fits on."""

    positions: np.ndarray  # (B, H, J, 3) metres: the pose about the root plus the root's travel
    uncertainty_m: np.ndarray  # (B, H, J) per-axis 1-sigma from the validation error
    seen: np.ndarray  # (B, J) joints observed in the window
    features: np.ndarray  # (B, J, K) difficulty.FEATURE_NAMES
    travel_m: np.ndarray  # (B, H, 3) the root's forecast travel (zero where not added)
    travel_rms_m: np.ndarray  # (B, H) its RMS error estimate (zero where not added)


def load_sidecar(checkpoint: Path, model_id: str, steps: int, mirror_average: bool,
                 given: str | Path,
                 report_hold: tuple[float, float] = (0.0, 0.0),
                 level_body: bool = False) -> tuple[Calibration | None, str]:
    """The calibration for this model, number of adaptation steps, mirror average, hold of
    the newest report (``report_hold.hold_key``) and levelling of the body, and a note for
    people (/diagnostics) saying what the radius is.

    ``given`` names a file, which must exist; empty: the checkpoint's sidecar, if it exists.
    A file made for another model is refused (ValueError); a missing file, or one without
    these settings, is a declared fallback to the uncalibrated radius.
    """
    path = Path(given) if given else sidecar_path(checkpoint)
    if not path.is_file():
        if given:
            raise FileNotFoundError(f"calibration file {path} does not exist; make one with "
                                    f"`nermo-ros calibrate` or leave calibration empty")
        return None, (f"not calibrated: no calibration for model {model_id} (looked for "
                      f"{path}), so radius_m is the Gaussian reading of the sigma and the "
                      f"forecasts say coverage 0; run `nermo-ros calibrate` to make one")
    calibrations = load_calibrations(path, model_id)
    chosen = for_adaptation(calibrations, steps, mirror_average, report_hold, level_body)
    wanted = _choice_words(steps, mirror_average, report_hold, level_body)
    if chosen is not None:
        return chosen, f"calibrated by {path} ({wanted})"
    made = "; ".join(_choice_words(c.num_adapt_steps, c.mirror_average, c.report_hold,
                                   c.level_body) for c in calibrations) or "nothing"
    hold_time_s, hold_jitter_m = report_hold
    remake = (f"nermo-ros calibrate --steps {steps} "
              f"--{'' if mirror_average else 'no-'}mirror-average "
              f"--hold-time-s {hold_time_s:g}"
              + (f" --hold-jitter-m {hold_jitter_m:g}" if hold_time_s > 0 else "")
              + (" --level-body" if level_body else ""))
    return None, (f"not calibrated: {path} calibrates {made}, not {wanted}, so radius_m is the "
                  f"Gaussian reading of the sigma and the forecasts say coverage 0; set the "
                  f"predictor to a calibrated choice or run `{remake}`")


def _choice_words(steps, mirror_average: bool, report_hold: tuple[float, float],
                  level_body: bool = False) -> str:
    hold_time_s, hold_jitter_m = report_hold
    hold = (f"hold {hold_time_s:g} s at {hold_jitter_m * 1000:g} mm jitter" if hold_time_s > 0
            else "no hold")
    mirror = "mirror-averaged" if mirror_average else "unmirrored"
    return f"{steps} adaptation steps, {mirror}, {hold}" + (", levelled" if level_body else "")


def check_adapt_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"num_adapt_steps must be a whole number >= 0 (gradient steps per "
                         f"person and frame; 0: no adaptation), got {steps!r}")


class NermoPredictor:
    name = "nermo"

    def __init__(self, checkpoint: str | Path = "", backend: str = "torch",
                 num_adapt_steps: int | None = None, adapt_fn: AdaptFn | None = None,
                 unobserved_sigma_m: float = 1.0, layout: str = LAYOUT_ID,
                 warm_start_blend: float = DEFAULT_WARM_START_BLEND,
                 gpu_precision: str = DEFAULT_GPU_PRECISION,
                 horizons_s: Sequence[float] | None = None, fallback_to_cpu: bool = True,
                 batch_buckets: tuple[int, ...] = DEFAULT_BUCKETS,
                 coverage: float = DEFAULT_COVERAGE, calibration: str | Path | None = "",
                 mirror_average: bool = DEFAULT_MIRROR_AVERAGE,
                 hold_time_s: float = DEFAULT_HOLD_TIME_S,
                 hold_jitter_m: float = DEFAULT_HOLD_JITTER_M,
                 level_body: bool = DEFAULT_LEVEL_BODY):
        """Everything that can be refused is refused here, not at the first forecast.

        ValueError: an unknown ``backend`` or ``gpu_precision``, a negative
        ``num_adapt_steps`` (None: the checkpoint's ``default_steps``, for offline use).
        BackendUnavailable: a named backend that cannot run here; with ``fallback_to_cpu`` (the
        node's choice) a GPU backend on a machine without a GPU runs on the CPU instead and
        ``fallback_reason`` says why. Given ``horizons_s``, the engine for that many forecast
        times is built now (a first start exports ONNX graphs or builds TensorRT engines), so
        a backend that cannot build fails at start; other horizon counts are built when first
        asked for. ``adapt_fn`` replaces the engine (tests of the predictor's own logic).
        ``coverage``: the share of future positions ``radius_m`` holds. ``calibration``: the
        calibration file (empty: the checkpoint's sidecar, see ``load_sidecar``; None: none, as
        for making one); one made for another model is refused. ``mirror_average``: average
        each forecast with its mirror window's (``ModelConfig.mirror_average``); refused for a
        model whose layout has no mirror map. ``hold_time_s``, ``hold_jitter_m``: how long and
        from how much observed jitter on the forecast holds the newest report
        (``forecasting/report_hold.py``; hold_time_s 0: not at all). ``level_body``: stand
        each window's body upright for the model (``predictors/levelling.py``); refused for a
        layout that names no pelvis and neck.
        """
        check_backend(backend)
        check_coverage(coverage)
        check_hold(hold_time_s, hold_jitter_m)
        check_gpu_precision(gpu_precision)
        if num_adapt_steps is not None:
            check_adapt_steps(num_adapt_steps)
        if not 0.0 <= warm_start_blend <= 1.0:
            raise ValueError(f"warm_start_blend must be in [0, 1], got {warm_start_blend}")
        if not isinstance(mirror_average, bool):
            raise ValueError(f"mirror_average must be true or false, got {mirror_average!r}")
        if not isinstance(level_body, bool):
            raise ValueError(f"level_body must be true or false, got {level_body!r}")
        checkpoint = Path(checkpoint or SHIPPED_DEFAULT)
        self.ckpt: Checkpoint = load_checkpoint(checkpoint, expect_layout=layout)
        # The engine builds the graph this config describes: mirrored or not.
        self.config = dataclasses.replace(self.ckpt.model_config, mirror_average=mirror_average)
        self.model_id = self.ckpt.model_id
        self.spine = spine_of(self.config.layout) if level_body else None
        self.steps = self.ckpt.default_steps if num_adapt_steps is None else int(num_adapt_steps)
        self.backend = backend
        self.gpu_precision = gpu_precision
        self.batch_buckets = tuple(batch_buckets)
        self._adapt_fn = adapt_fn
        self._engines: dict[tuple[int, int], AdaptFn] = {}
        self.choice = None if adapt_fn is not None else choose(backend, "auto", fallback_to_cpu)
        # What runs the adapt step (for /diagnostics); the built engine describes itself.
        self.hold_time_s, self.hold_jitter_m = hold_key(hold_time_s, hold_jitter_m)
        self._mirror_note = ", mirror-averaged" if self.config.mirror_average else ""
        self.backend_description = (
            f"injected adapt step, K={self.steps}" if self.choice is None else
            f"{self.choice.backend} on {self.choice.device}, K={self.steps}"
            f"{self._mirror_note}, not built yet")
        self.coverage = float(coverage)
        self.gaussian_factor = gaussian_radius_factor(self.coverage)  # radius / per-axis sigma
        self.fallback_reason = "" if self.choice is None else self.choice.fallback_reason
        self.calibration, self.radius_note = (
            (None, "not calibrated (calibration switched off): radius_m is the Gaussian reading "
                   "of the sigma")
            if calibration is None else
            load_sidecar(checkpoint, self.model_id, self.steps, self.config.mirror_average,
                         calibration, (self.hold_time_s, self.hold_jitter_m),
                         self.spine is not None))
        self.unobserved_sigma_m = unobserved_sigma_m
        self.z0 = self.ckpt.params["z0"].detach().float().numpy()
        self.z_by_track: dict[str, np.ndarray] = {}
        self._sigma_by_horizons: dict[bytes, np.ndarray] = {}
        self.max_age_s = self.ckpt.obs_window_s + WINDOW_SLACK_S
        self.history_frames = int(self.ckpt.train_config.get("window", {}).get(
            "obs_frames", DEFAULT_HISTORY_FRAMES))
        self.min_spacing_s = TRAINED_SPACING_SHARE * trained_frame_period_s(self.ckpt.train_config)
        self.warm_start_blend = float(warm_start_blend)
        # Root-relative training data (origin joint set): the root's travel is forecast apart.
        self.separate_root = self.config.origin_joint >= 0
        self.root_motion = ConstantVelocityPredictor()
        self._check_validation()
        if horizons_s is not None:  # every window enters the step as history_frames frames
            self.adapt_fn(self.history_frames, len(horizons_s))

    @property
    def radius_coverage(self) -> float:
        """The coverage its radius is calibrated to hold; 0: not calibrated."""
        return self.coverage if self.calibration is not None else 0.0

    def _check_validation(self) -> None:
        v = self.ckpt.validation
        if not v or "mpjpe_joint_m" not in v:
            raise ValueError(f"checkpoint {self.model_id} carries no validation errors, so its "
                             "forecasts would have no honest uncertainty; train it with "
                             "validation (drop --no-validate)")
        self.val_horizons_s = np.asarray(v["horizons_s"], dtype=np.float64)
        self.val_error_m = np.asarray(v["mpjpe_joint_m"], dtype=np.float64)  # (H, J)

    def adapt_fn(self, window_frames: int, num_queries: int) -> AdaptFn:
        """The injected function, else the engine for (T, Q), built once on the chosen backend."""
        if self._adapt_fn is not None:
            return self._adapt_fn
        key = (window_frames, num_queries)
        if key not in self._engines:
            program = nermo_program(self.ckpt.params, self.config, self.steps, window_frames,
                                    num_queries, self.batch_buckets)
            engine = engine_for_choice(program, self.choice, gpu_precision=self.gpu_precision)
            self.backend_description = engine.describe() + self._mirror_note
            self._engines[key] = engine
        return self._engines[key]

    def predict(self, batch: WindowBatch, horizons_s: np.ndarray) -> ForecastBatch:
        horizons_s = np.asarray(horizons_s, dtype=np.float64)
        parts = self.forecast(batch, horizons_s)
        radius, coverage = self.radius_m(parts, horizons_s)
        return ForecastBatch(parts.positions.astype(np.float32),
                             parts.uncertainty_m.astype(np.float32), radius, coverage)

    def forecast(self, batch: WindowBatch, horizons_s: np.ndarray) -> NermoForecast:
        """Adapt, forecast and describe the forecast's difficulty; no radius yet."""
        horizons_s = np.asarray(horizons_s, dtype=np.float64)
        b, j, h = len(batch.track_ids), self.config.num_joints, len(horizons_s)
        if batch.positions.shape[2:] != (j, 3):
            raise ValueError(f"NeRMo checkpoint {self.model_id} expects {j} joints "
                             f"({self.config.layout}), got positions {batch.positions.shape}")
        if b == 0:
            return NermoForecast(np.zeros((0, h, j, 3)), np.zeros((0, h, j)),
                                 np.zeros((0, j), bool), np.zeros((0, j, len(FEATURES))),
                                 np.zeros((0, h, 3)), np.zeros((0, h)))
        split = split_root(batch, self.config.origin_joint) if self.separate_root else None
        local = split.local if split else batch
        turn = None  # each person's window stood upright (level_body), the forecast turned back
        if self.spine is not None and split is not None:
            turn = upright_rotations(local, *self.spine)
            local = dataclasses.replace(local, positions=rotate(local.positions, turn))
        window = self._recent(local)
        prep = prepare_window(window, horizons_s, self.config)
        z_init = np.stack([self.z0 + self.warm_start_blend * (self.z_by_track[t] - self.z0)
                           if t in self.z_by_track else self.z0 for t in batch.track_ids])
        adapt = self.adapt_fn(prep.obs_t.shape[1], h)
        obs_x = prep.obs_x.numpy()
        pred, z, recon = adapt(prep.obs_t.numpy(), obs_x, prep.obs_mask.numpy(),
                               z_init.astype(np.float32), prep.query_t.numpy())
        z = np.asarray(z, dtype=np.float32)
        finite = np.isfinite(z).all(axis=1)
        for track, z_track, ok in zip(batch.track_ids, z, finite):
            if ok:
                self.z_by_track[track] = z_track
            else:  # never warm-start from a diverged fit
                self.z_by_track.pop(track, None)
        positions = restore(np.asarray(pred), prep.origin_m, self.config)
        if turn is not None:
            positions = rotate(positions, turn.transpose(0, 2, 1))
        residual_m = (np.linalg.norm(np.asarray(recon) - obs_x, axis=-1)
                      * self.config.position_unit_m)
        features = difficulty_features(window, residual_m)
        seen = prep.obs_mask.numpy().any(axis=1)  # (B, J)
        sigma = self.uncertainty_m(horizons_s, seen)
        travel_m, travel_rms_m = np.zeros((b, h, 3)), np.zeros((b, h))
        if split is not None:  # add the root's own travel, and its uncertainty
            root = self.root_motion.predict(split.root, horizons_s)
            moved = split.has_root[:, None]
            travel_m = np.where(moved[..., None], root.positions[:, :, 0], 0.0)
            travel_sigma = np.where(moved, root.uncertainty_m[:, :, 0], 0.0)
            travel_rms_m = RMS_3D_PER_AXIS_SIGMA * travel_sigma
            positions = positions + travel_m[:, :, None, :]
            seen_moved = moved[..., None] & seen[:, None, :]  # never-seen joints keep theirs
            sigma = np.where(seen_moved, np.hypot(sigma, travel_sigma[..., None]), sigma)
        positions = hold_newest_report(positions, batch, horizons_s, self.hold_time_s,
                                       self.hold_jitter_m)
        return NermoForecast(positions, sigma, seen, features, travel_m, travel_rms_m)

    def radius_m(self, parts: NermoForecast, horizons_s: np.ndarray) -> tuple[np.ndarray, float]:
        """(B, H, J) keep-out radius and the coverage it is calibrated for (0: not calibrated,
        the Gaussian reading of the per-axis sigma)."""
        unobserved_m = self.gaussian_factor * self.unobserved_sigma_m
        if self.calibration is None:
            return (self.gaussian_factor * parts.uncertainty_m).astype(np.float32), 0.0
        prepared = self.calibration.prepared(horizons_s, self.coverage)
        radius = prepared.radius_m(prepared.scale_m(parts.features, parts.travel_rms_m))
        radius = np.where(parts.seen[:, None, :], radius, unobserved_m)
        return radius.astype(np.float32), self.coverage

    def _recent(self, batch: WindowBatch) -> WindowBatch:
        """The newest ``history_frames`` frames no denser than the trained rate
        (``spaced_frames``; front-padded if fewer), frames older than the trained span masked."""
        frame_valid = np.asarray(batch.frame_valid, dtype=bool)
        pick = spaced_frames(batch.times_s, frame_valid, self.history_frames,
                             self.min_spacing_s)  # (B, T') -1: padding
        pad = pick < 0
        rows = np.arange(len(pick))[:, None]
        index = np.maximum(pick, 0)
        times = np.where(pad, 0.0, batch.times_s[rows, index])
        positions = np.where(pad[..., None, None], 0.0, batch.positions[rows, index])
        mask = ~pad[..., None] & np.asarray(batch.joint_mask, dtype=bool)[rows, index]
        valid = ~pad & frame_valid[rows, index] & (times >= -self.max_age_s)
        return WindowBatch(times, positions, mask, valid, batch.track_ids)

    def uncertainty_m(self, horizons_s: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """(B, H, J) per-axis 1-sigma from the validation error; linear growth beyond it."""
        key = horizons_s.tobytes()
        if key not in self._sigma_by_horizons:  # once per horizon set, not per frame
            self._sigma_by_horizons[key] = self._sigma_at(horizons_s)
        sigma = self._sigma_by_horizons[key]
        return np.where(seen[:, None, :], sigma[None], self.unobserved_sigma_m).astype(np.float32)

    def _sigma_at(self, horizons_s: np.ndarray) -> np.ndarray:
        h_val, err = self.val_horizons_s, self.val_error_m
        per_joint = np.stack([np.interp(horizons_s, h_val, err[:, k]) for k in range(err.shape[1])], -1)
        beyond = horizons_s > h_val[-1]
        per_joint[beyond] = err[-1] * (horizons_s[beyond, None] / h_val[-1])
        return per_joint / MEAN_NORM_PER_SIGMA

    def reset_track(self, track_id: str) -> None:
        """Forget the track's modulation: its next window starts from z0."""
        self.z_by_track.pop(track_id, None)


def trained_frame_period_s(train_config: dict) -> float:
    """The shortest time between observed frames in the model's training windows: its fastest
    camera rate, else every ``obs_step_raw`` frames of the 50 Hz mocap."""
    window = train_config.get("window", {}) or {}
    rates = window.get("frame_rates_hz") or ()
    if rates:
        return 1.0 / max(rates)
    return float(window.get("obs_step_raw", 2)) / RAW_FRAME_RATE_HZ


def spaced_frames(times_s: np.ndarray, frame_valid: np.ndarray, frames: int,
                  min_spacing_s: float) -> np.ndarray:
    """(B, frames) indices into each window's frames, oldest first, -1 where padding: walking
    back from the newest frame, every frame is kept unless it is a valid frame closer than
    ``min_spacing_s`` to the newer valid frame kept last (missing frames keep their slot, as
    in training)."""
    b, t = times_s.shape
    out = np.full((b, frames), -1, dtype=np.int64)
    for person in range(b):
        kept, newest_kept = [], None
        for i in range(t - 1, -1, -1):
            if len(kept) == frames:
                break
            if frame_valid[person, i]:
                if newest_kept is not None and newest_kept - times_s[person, i] < min_spacing_s - 1e-9:
                    continue
                newest_kept = times_s[person, i]
            kept.append(i)
        out[person, frames - len(kept):] = kept[::-1]
    return out

