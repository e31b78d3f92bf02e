"""Hold a jittery camera's newest report at short horizons.

A camera's error is not white: MediaPipe's depth and limb errors persist over many frames, so
its next reports stay close to its newest one. A forecast that smooths the jitter away and
extrapolates the person's motion is then further from what the camera will report (and from
where the robot will see the person) than standing still is, at 80 ms on both real videos in
BENCHMARKS.md. So each forecast joint is blended toward its newest sighting with weight

    exp(-h / hold_time_s) * jitter^4 / (jitter^4 + hold_jitter_m^4)

where ``jitter`` is the person's observed jitter: the median over joints of the RMS residual
of a quadratic in time fitted to each joint's sightings in the last ``JITTER_WINDOW_S``. A
clean walk shows about 14 mm (feet and hands leave a quadratic that much without any noise)
and keeps 90 % of the model's forecast; MediaPipe on real video shows about 38 mm, so its
forecast starts near the newest report and hands over to the model within a few tenths of a
second. The fourth power separates the two more sharply than a square would. ``hold_time_s``
0 switches the hold off.
"""

from __future__ import annotations

import numpy as np

from nermo_ros.predictors.base import WindowBatch

# Chosen on the two real videos of BENCHMARKS.md ("Perception on real video"): a hold that beats
# standing still at every horizon on both, while clean mocap keeps its error within 0.01 mm
# and the live demo's clean walk within 1 mm.
DEFAULT_HOLD_TIME_S = 0.3
DEFAULT_HOLD_JITTER_M = 0.025
JITTER_WINDOW_S = 0.5  # sightings this recent measure a joint's jitter (quadratic fit)
MIN_SIGHTINGS = 4  # a quadratic needs 3; one more leaves a residual to measure


def hold_key(hold_time_s: float, hold_jitter_m: float) -> tuple[float, float]:
    """The hold as a calibration records it: (0, 0) when off, whatever the jitter scale."""
    if hold_time_s <= 0.0:
        return 0.0, 0.0
    return round(float(hold_time_s), 6), round(float(hold_jitter_m), 6)


def check_hold(hold_time_s: float, hold_jitter_m: float) -> None:
    if not hold_time_s >= 0.0:
        raise ValueError(f"hold_time_s must be >= 0 (0: no hold), got {hold_time_s!r}")
    if not hold_jitter_m > 0.0:
        raise ValueError(f"hold_jitter_m must be > 0 metres, got {hold_jitter_m!r}")


def newest_frame(batch: WindowBatch) -> np.ndarray:
    """(B,) index of each person's newest valid frame."""
    return np.where(batch.frame_valid, batch.times_s, -np.inf).argmax(axis=1)


def joint_jitter_m(batch: WindowBatch, window_s: float = JITTER_WINDOW_S) -> np.ndarray:
    """(B, J) RMS residual (3D, metres) of a weighted quadratic fit of each joint's recent
    sightings over time; NaN for a joint with fewer than ``MIN_SIGHTINGS``."""
    newest_t = np.where(batch.frame_valid, batch.times_s, -np.inf).max(axis=1)  # (B,)
    recent = batch.frame_valid & (batch.times_s >= newest_t[:, None] - window_s)
    seen_bool = batch.joint_mask & recent[..., None]
    seen = seen_bool.astype(np.float64)  # (B, T, J)
    positions = np.where(seen_bool[..., None], batch.positions, 0.0)  # unseen may be NaN
    count = seen.sum(axis=1)  # (B, J)
    centre = (seen[..., None] * positions).sum(axis=1) / np.maximum(count, 1)[..., None]
    positions = np.where(seen_bool[..., None], positions - centre[:, None], 0.0)  # well scaled
    t = np.where(batch.frame_valid, batch.times_s - newest_t[:, None], 0.0)  # newest at 0
    basis = np.stack([np.ones_like(t), t, t * t], axis=-1)  # (B, T, 3)
    b, frames, j = seen.shape
    # Weighted normal equations per (B, J), as batched matrix products: (A^T W A) c = A^T W x.
    outer = (basis[..., :, None] * basis[..., None, :]).reshape(b, frames, 9)
    gram = (seen.transpose(0, 2, 1) @ outer).reshape(b, j, 3, 3)
    weighted = seen[..., None] * positions  # (B, T, J, 3)
    rhs = (basis.transpose(0, 2, 1) @ weighted.reshape(b, frames, j * 3))  # (B, 3, J*3)
    rhs = rhs.reshape(b, 3, j, 3).transpose(0, 2, 1, 3)  # (B, J, 3 terms, 3 axes)
    enough = count >= MIN_SIGHTINGS
    gram = np.where(enough[..., None, None], gram, np.eye(3))
    coef = np.linalg.solve(gram, rhs)  # (B, J, 3, 3): quadratic coefficients per axis
    # Residual sum of squares of a least-squares fit: x^T W x - c^T A^T W x.
    sq = (weighted * positions).sum(axis=(1, 3)) - (coef * rhs).sum(axis=(2, 3))
    jitter = np.sqrt(np.maximum(sq, 0.0) / np.maximum(count - 3, 1))
    return np.where(enough, jitter, np.nan)


def person_jitter_m(batch: WindowBatch, window_s: float = JITTER_WINDOW_S) -> np.ndarray:
    """(B,) median over a person's measured joints of ``joint_jitter_m``; NaN: none measured."""
    jitter = joint_jitter_m(batch, window_s)
    person = np.full(len(jitter), np.nan)
    measured = np.isfinite(jitter).any(axis=1)
    if measured.any():
        person[measured] = _row_nanmedian(jitter[measured])
    return person


def _row_nanmedian(values: np.ndarray) -> np.ndarray:
    """np.nanmedian(values, axis=1) for rows with at least one finite value, without numpy's
    masked-array path for small arrays (0.4 ms a frame, against 20 us here)."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = np.isfinite(values).sum(axis=1)
    rows = np.arange(len(values))
    return 0.5 * (ordered[rows, (count - 1) // 2] + ordered[rows, count // 2])


def hold_weights(jitter_m: np.ndarray, horizons_s: np.ndarray, hold_time_s: float,
                 hold_jitter_m: float) -> np.ndarray:
    """(B, H) share of the newest report in each person's forecast. Jitter NaN (too few recent
    sightings to measure it, as for a person just found) holds fully: with so little history
    the newest report is the safer guess."""
    if hold_time_s <= 0.0:
        return np.zeros((len(jitter_m), len(horizons_s)))
    j4 = np.asarray(jitter_m, dtype=np.float64) ** 4
    measured = np.isfinite(j4)
    share = np.ones(len(j4))  # (B,)
    share[measured] = j4[measured] / (j4[measured] + float(hold_jitter_m) ** 4)
    decay = np.exp(-np.asarray(horizons_s, dtype=np.float64) / hold_time_s)  # (H,)
    return share[:, None] * decay[None, :]


def hold_newest_report(positions: np.ndarray, batch: WindowBatch, horizons_s: np.ndarray,
                       hold_time_s: float, hold_jitter_m: float) -> np.ndarray:
    """(B, H, J, 3) forecast blended toward each joint's newest sighting (module docstring).
    A joint not seen in the newest frame keeps the model's forecast."""
    if hold_time_s <= 0.0 or len(positions) == 0:
        return positions
    rows = np.arange(len(positions))
    idx = newest_frame(batch)
    newest, seen_now = batch.positions[rows, idx], batch.joint_mask[rows, idx]  # (B, J, 3), (B, J)
    w = hold_weights(person_jitter_m(batch), horizons_s, hold_time_s, hold_jitter_m)
    w = w[:, :, None] * seen_now[:, None, :]
    pull = np.where(seen_now[:, None, :, None], newest[:, None] - positions, 0.0)
    return positions + w[..., None] * pull
