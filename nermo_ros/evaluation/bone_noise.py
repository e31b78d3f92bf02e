"""Bone lengths of a perceived skeleton: how they drift, and what they say about depth.

A body is rigid, so every change of a bone's length is perception error. The raw figure (std
over the video / median) includes the jitter; the length of the *smoothed* skeleton varies
only slowly, and that slow part is the drift that the injector adds on top of the jitter (so
nothing counts twice). Depth: the scale ``s`` under which bones keep their length as they
turn towards or away from the camera (a bone's image-plane part squared plus its depth part
squared over s^2 is its true length squared, which is constant); and the left/right
asymmetry of paired bones (zero on a real body).
"""

from __future__ import annotations

import warnings

import numpy as np

from nermo_ros import skeleton
from nermo_ros.evaluation.noise_measurement import Track, runs, smooth, smoothing_weights

MAX_DRIFT_TIME_S = 10.0
PAIRED_BONES = tuple((f"left_{a}", f"right_{a}") for a in (
    "hip", "knee", "ankle", "toe", "shoulder", "elbow", "wrist"))


def bone_lengths_m(positions_m: np.ndarray,
                   bones: tuple[tuple[int, int], ...] = skeleton.BONES) -> np.ndarray:
    """(..., J, 3) -> (..., bones) in ``bones`` order (the canonical skeleton's by default)."""
    parents, children = zip(*bones)
    return np.linalg.norm(positions_m[..., children, :] - positions_m[..., parents, :], axis=-1)


def bone_length_change(observed: np.ndarray, seen: np.ndarray, forecast: np.ndarray,
                       bones: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Relative change of each bone's length from the observed pose (N, J, 3) to its forecast
    (N, J, 3), NaN where ``seen`` (N, J) lacks either end. A body keeps its proportions, so a
    forecast that changes them is implausible whatever the reference it is scored against."""
    parent, child = (list(side) for side in zip(*bones))
    before, after = bone_lengths_m(observed, bones), bone_lengths_m(forecast, bones)
    valid = seen[:, child] & seen[:, parent] & (before > 1e-6)
    return np.where(valid, after / np.where(valid, before, 1.0) - 1.0, np.nan)


def smoothed_positions(track: Track, points: int) -> np.ndarray:
    """(N, J, 3) the smoother's values where a joint's run covers the whole window, else NaN."""
    weights, half = smoothing_weights(points), points // 2
    out = np.full(track.positions_m.shape, np.nan)
    seen = track.seen
    for joint in range(skeleton.NUM_JOINTS):
        for start, stop in runs(seen[:, joint]):
            if stop - start >= points:
                out[start + half:stop - half, joint] = smooth(
                    track.positions_m[start:stop, joint], weights)
    return out


def _relative_deviation(lengths: np.ndarray) -> np.ndarray:
    """(N, bones) lengths -> length / the bone's median - 1 (NaN where unknown)."""
    median = np.nanmedian(np.where(np.isfinite(lengths), lengths, np.nan), axis=0)
    return lengths / median - 1.0


def measure_bones(tracks: list[Track], points: int, period_s: float) -> dict:
    """Per bone the relative std of its length, raw and smoothed (the drift); the drift's
    correlation time (pooled, rough on short videos); the depth scale from bone lengths; the
    median left/right asymmetry per paired bone. A bone never seen whole gives NaN."""
    with warnings.catch_warnings():  # all-NaN columns are expected: say NaN, not warn
        warnings.simplefilter("ignore", RuntimeWarning)
        return _measure_bones(tracks, points, period_s)


def _measure_bones(tracks: list[Track], points: int, period_s: float) -> dict:
    parents, children = zip(*skeleton.BONES)
    raw, slow, depth_parts = [], [], []
    for track in tracks:
        seen = track.seen
        both = seen[:, parents] & seen[:, children]
        raw.append(_relative_deviation(np.where(both, bone_lengths_m(track.positions_m),
                                                np.nan)))
        smooth = smoothed_positions(track, points)
        slow.append(_relative_deviation(bone_lengths_m(smooth)))
        depth_parts.append(_depth_parts(smooth[:, children] - smooth[:, parents]))
    drift_time_s = _drift_time_s(slow, points, period_s)
    raw, slow = np.concatenate(raw), np.concatenate(slow)
    return {"raw_std": _nanstd(raw), "drift_std": _nanstd(slow), "drift_time_s": drift_time_s,
            "depth_scale": _depth_scale(depth_parts), "asymmetry": _asymmetry(tracks)}


def _nanstd(values: np.ndarray) -> np.ndarray:
    counts = np.isfinite(values).sum(axis=0)
    centred = values - np.nanmean(values, axis=0)
    return np.sqrt(np.nansum(centred ** 2, axis=0) / np.maximum(counts - 1, 1))


def _drift_time_s(slow_per_track: list[np.ndarray], points: int, period_s: float) -> float:
    """Correlation time of the smoothed lengths from their autocorrelation one window apart."""
    products, squares = 0.0, 0.0
    for slow in slow_per_track:
        slow = slow - np.nanmean(slow, axis=0)
        a, b = slow[:-points], slow[points:]
        both = np.isfinite(a) & np.isfinite(b)
        products += float((a * b)[both].sum())
        squares += float(0.5 * ((a ** 2)[both].sum() + (b ** 2)[both].sum()))
    if squares == 0:
        return 0.0
    rho = products / squares
    if rho <= 0:
        return points * period_s / 4.0  # gone within one window: call it short
    if rho >= 1:
        return MAX_DRIFT_TIME_S
    return float(min(-points * period_s / np.log(rho), MAX_DRIFT_TIME_S))


def _depth_parts(bones_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, bones, 3) camera axes -> squared depth and image-plane parts of each bone over
    the bone's median squared length, each with its mean over the track removed."""
    depth2, plane2 = bones_m[..., 0] ** 2, (bones_m[..., 1:] ** 2).sum(-1)
    scale = np.nanmedian(depth2 + plane2, axis=0)
    depth2, plane2 = depth2 / scale, plane2 / scale
    return depth2 - np.nanmean(depth2, axis=0), plane2 - np.nanmean(plane2, axis=0)


def _depth_scale(parts: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """``s`` such that plane^2 + depth^2 / s^2, the true squared length, varies least: a rigid
    bone turning towards the camera must keep its length."""
    depth2 = np.concatenate([d for d, _ in parts])
    plane2 = np.concatenate([p for _, p in parts])
    ok = np.isfinite(depth2) & np.isfinite(plane2)
    inverse_square = -np.sum(plane2[ok] * depth2[ok]) / max(np.sum(depth2[ok] ** 2), 1e-12)
    return float(1.0 / np.sqrt(max(inverse_square, 0.01)))


def _asymmetry(tracks: list[Track]) -> dict[str, float]:
    """Median |left - right| / their mean, per paired bone (child joint named by side)."""
    index = {skeleton.JOINT_NAMES[c]: k for k, (_, c) in enumerate(skeleton.BONES)}
    out = {}
    for left, right in PAIRED_BONES:
        values = []
        for track in tracks:
            lengths = bone_lengths_m(np.where(track.seen[..., None], track.positions_m, np.nan))
            a, b = lengths[:, index[left]], lengths[:, index[right]]
            values.append(np.abs(a - b) / (0.5 * (a + b)))
        values = np.concatenate(values)
        out[left.removeprefix("left_")] = float(np.nanmedian(values)) if np.isfinite(
            values).any() else float("nan")
    return out
