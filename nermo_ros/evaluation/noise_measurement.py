"""MediaPipe's skeleton noise measured on real video, where no ground truth exists.

What a video alone can show honestly, per tracked person (hip-centred metric skeletons in
camera axes: depth, lateral, vertical):

- **Left/right swaps**: seen from the side, MediaPipe confuses front and back and swaps the
  labels of the left and right joints for some frames. The hip vector then turns by more
  than 90 degrees within one frame, which no body does; the frames on the minority side of
  such jumps are swapped, and are swapped back before anything else is measured.
- **Jitter and glitches**: a joint farther than ``GLITCH_SIGMAS`` robust standard
  deviations (from the median absolute distance) from its running median over ``window_s``
  is a glitch: a share per joint, a run length and a size. Without the glitch frames, the
  jitter is each joint's distance from a local quadratic fit over ``window_s`` (a
  Savitzky-Golay smoother); noise correlated from frame to frame is partly absorbed by the
  fit, so the residual's variance and lag-1 correlation are inverted for an
  AR(1) model (``ar1_from_residuals``): the std and correlation time that leave exactly these
  residuals. Motion a quadratic cannot follow within ``window_s`` counts as jitter too, so
  fast motion makes the figure an upper bound.
- **Dropped joints**: the share of frames a joint has confidence 0 while the body is seen,
  and how long such runs last; frames in a track's life where the whole body is missed.
- **Bones and depth** (``bone_noise``): bone-length drift and the depth scale.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nermo_ros import skeleton
from nermo_ros.evaluation.perception_noise import PerceptionNoise, mirror_permutation

DEFAULT_WINDOW_S = 0.2
GLITCH_SIGMAS = 4.0
MAD_TO_SIGMA = 1.4826  # median absolute deviation of a Gaussian times this is its std
# Below this, a joint does not move by itself: the pelvis is the hips' midpoint, the origin of
# hip-centred landmarks, and only float32 rounding moves it.
ROBUST_SIGMA_FLOOR_M = 1e-4
AR1_GRID = np.linspace(0.0, 0.98, 197)
HIPS = (skeleton.JOINT_INDEX["left_hip"], skeleton.JOINT_INDEX["right_hip"])


@dataclass(frozen=True)
class Track:
    """One person over the frames from first to last sighting. times_s (N,); positions_m
    (N, J, 3) camera axes, NaN where the body was missed; confidence (N, J), 0 there."""

    times_s: np.ndarray
    positions_m: np.ndarray
    confidence: np.ndarray

    @property
    def present(self) -> np.ndarray:
        return np.isfinite(self.positions_m).all(axis=(1, 2))

    @property
    def seen(self) -> np.ndarray:
        """(N, J) joint reported with confidence > 0."""
        return self.present[:, None] & (self.confidence > 0)


def tracks_from_frames(stamps_s, people_per_frame, min_frames: int = 10) -> list[Track]:
    """Frames of people (objects with ``track_id``, ``positions_m``, ``confidence``) -> one
    ``Track`` per id seen in at least ``min_frames`` frames."""
    by_id: dict[str, dict[int, object]] = {}
    for index, people in enumerate(people_per_frame):
        for person in people:
            by_id.setdefault(person.track_id, {})[index] = person
    stamps_s = np.asarray(stamps_s, dtype=np.float64)
    tracks = []
    for frames in by_id.values():
        if len(frames) < min_frames:
            continue
        first, last = min(frames), max(frames)
        n = last - first + 1
        positions = np.full((n, skeleton.NUM_JOINTS, 3), np.nan)
        confidence = np.zeros((n, skeleton.NUM_JOINTS))
        for index, person in frames.items():
            positions[index - first] = np.asarray(person.positions_m, dtype=np.float64)
            confidence[index - first] = np.asarray(person.confidence, dtype=np.float64)
        tracks.append(Track(stamps_s[first:last + 1], positions, confidence))
    return tracks


def frame_period_s(tracks: list[Track]) -> float:
    gaps = np.concatenate([np.diff(t.times_s) for t in tracks])
    if not gaps.size:
        raise ValueError("no track has two frames; a video needs a person in view for longer")
    return float(np.median(gaps))


def window_points(window_s: float, period_s: float) -> int:
    """An odd number of frames spanning about ``window_s``, at least 5."""
    return max(5, 2 * int(round(window_s / period_s / 2.0)) + 1)


def smoothing_weights(points: int, order: int = 2) -> np.ndarray:
    """(points,) weights of the local polynomial fit's value at the window's centre."""
    k = np.arange(points) - points // 2
    design = np.vander(k, order + 1, increasing=True).astype(np.float64)
    return np.linalg.pinv(design)[0]


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of every run of True."""
    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2], edges[1::2]))


def smooth(run_m: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(L, ...) -> (L - n + 1, ...) smoothed values at the interior frames."""
    windows = np.lib.stride_tricks.sliding_window_view(run_m, len(weights), axis=0)
    return windows @ weights


def left_right_swaps(track: Track) -> np.ndarray:
    """(N,) True where the left and right labels are swapped (see the module's docstring)."""
    hips = track.positions_m[:, HIPS[0], :2] - track.positions_m[:, HIPS[1], :2]
    state, previous = False, None
    flipped = np.zeros(len(hips), dtype=bool)
    for index in np.flatnonzero(track.present):
        if previous is not None and float(hips[index] @ previous) < 0:
            state = not state
        flipped[index], previous = state, hips[index]
    present = track.present
    return (~flipped if flipped[present].mean() > 0.5 else flipped) & present


def unswapped(track: Track, swapped: np.ndarray) -> Track:
    """The track with the labels of ``swapped`` frames put back."""
    perm = list(mirror_permutation())
    positions, confidence = track.positions_m.copy(), track.confidence.copy()
    positions[swapped] = positions[swapped][:, perm]
    confidence[swapped] = confidence[swapped][:, perm]
    return replace(track, positions_m=positions, confidence=confidence)


def _residual_moments(rho: float, points: int) -> tuple[float, float]:
    """Variance and lag-1 covariance of the smoother's residual for unit AR(1) noise."""
    g = -smoothing_weights(points)
    g[points // 2] += 1.0
    k = np.arange(points + 1)
    cov = rho ** np.abs(k[:, None] - k[None, :])
    first, second = np.append(g, 0.0), np.insert(g, 0, 0.0)
    return float(first @ cov @ first), float(first @ cov @ second)


def ar1_from_residuals(variance: float, lag1_covariance: float,
                       points: int) -> tuple[float, float]:
    """(noise std, frame-to-frame correlation) of AR(1) noise that leaves residuals of this
    variance and lag-1 covariance after the ``points``-frame smoother."""
    ratios = np.array([_residual_moments(r, points)[1] / _residual_moments(r, points)[0]
                       for r in AR1_GRID])
    measured = lag1_covariance / variance if variance > 0 else ratios[0]
    rho = float(AR1_GRID[np.argmin(np.abs(ratios - measured))])
    gain, _ = _residual_moments(rho, points)
    return float(np.sqrt(variance / gain)), rho


def residual_runs(tracks: list[Track], points: int, median: bool = False):
    """(track index, joint, frame of the first residual, (L, 3) residuals) for every run of a
    joint's sightings longer than the smoother; ``median``: from the median of the frame's
    neighbours instead, which a lone glitch does not pull (a quadratic fit spreads it over
    its neighbours)."""
    weights, half = smoothing_weights(points), points // 2
    for k, track in enumerate(tracks):
        seen = track.seen
        for joint in range(skeleton.NUM_JOINTS):
            for start, stop in runs(seen[:, joint]):
                if stop - start > points:
                    run_m = track.positions_m[start:stop, joint]
                    if median:  # of the neighbours: the frame itself is what is tested
                        around = np.lib.stride_tricks.sliding_window_view(run_m, points, axis=0)
                        fit = np.median(np.delete(around, half, axis=-1), axis=-1)
                    else:
                        fit = smooth(run_m, weights)
                    yield k, joint, start + half, run_m[half:len(run_m) - half] - fit


def _robust_sigma(pieces) -> np.ndarray:
    """(J, 3) std of each joint's residuals from their median absolute value."""
    robust = np.full((skeleton.NUM_JOINTS, 3), np.inf)
    for joint in range(skeleton.NUM_JOINTS):
        mine = [r for _, jj, _, r in pieces if jj == joint]
        if mine:
            median = np.median(np.abs(np.concatenate(mine)), axis=0)
            robust[joint] = np.maximum(MAD_TO_SIGMA * median, ROBUST_SIGMA_FLOOR_M)
    return robust


def _glitches(tracks: list[Track], points: int, period_s: float) -> dict:
    """Distances from the running median beyond GLITCH_SIGMAS robust sigma: share and size
    per joint, run length, and per track the (N, J) frames."""
    pieces = list(residual_runs(tracks, points, median=True))
    robust = _robust_sigma(pieces)
    j = skeleton.NUM_JOINTS
    squares, found, total, count_runs = np.zeros((j, 3)), np.zeros(j), np.zeros(j), 0
    masks = [np.zeros(t.confidence.shape, dtype=bool) for t in tracks]
    for k, joint, first, r in pieces:
        out = (np.abs(r) > GLITCH_SIGMAS * robust[joint]).any(axis=-1)
        squares[joint] += (r[out] ** 2).sum(axis=0)
        found[joint] += out.sum()
        total[joint] += len(r)
        count_runs += len(runs(out))
        masks[k][first:first + len(r), joint] = out
    return {"glitch_share": found / np.maximum(total, 1),
            "glitch_std_m": np.sqrt(squares / np.maximum(found, 1)[:, None]),
            "glitch_run_s": float(found.sum() * period_s / count_runs) if count_runs else 0.0,
            "glitch_masks": masks}


def measure_jitter(tracks: list[Track], window_s: float = DEFAULT_WINDOW_S) -> dict:
    """Jitter: {"std_m": (J, 3), "time_s", "rho", "points", "period_s", "residuals" (J,)};
    glitches: {"glitch_share" (J,), "glitch_std_m" (J, 3), "glitch_run_s", "glitch_masks":
    per track (N, J)}. The jitter is measured again with the glitch frames left out, so the
    pull of a glitch on the fit around it does not count as jitter; one correlation for all
    joints and axes (pooled)."""
    period = frame_period_s(tracks)
    points = window_points(window_s, period)
    pieces = list(residual_runs(tracks, points))
    if not pieces:
        raise ValueError(f"no joint was seen for {points + 1} frames in a row; jitter needs "
                         "longer tracks (a longer video, or a larger person in view)")
    robust = _robust_sigma(pieces)
    glitches = _glitches(tracks, points, period)
    clean = [replace(t, confidence=np.where(g, 0.0, t.confidence))
             for t, g in zip(tracks, glitches["glitch_masks"])]
    j = skeleton.NUM_JOINTS
    squares, lag1, count, lag1_count = np.zeros((j, 3)), np.zeros((j, 3)), np.zeros(j), 0
    for _, joint, _, r in residual_runs(clean, points):
        keep = (np.abs(r) <= GLITCH_SIGMAS * robust[joint]).all(axis=-1)
        squares[joint] += (r[keep] ** 2).sum(axis=0)
        count[joint] += keep.sum()
        both = keep[1:] & keep[:-1]
        lag1[joint] += (r[1:] * r[:-1])[both].sum(axis=0)
        lag1_count += int(both.sum())
    if count.sum() == 0:
        raise ValueError("every run of sightings is broken by glitches; jitter cannot be told "
                         "apart from them in this video")
    _, rho = ar1_from_residuals(squares.sum() / (3 * count.sum()),
                                lag1.sum() / (3 * max(lag1_count, 1)), points)
    gain, _ = _residual_moments(rho, points)
    return {"std_m": np.sqrt(squares / np.maximum(count, 1)[:, None] / gain),
            "time_s": float(-period / np.log(rho)) if rho > 0 else 0.0, "rho": rho,
            "points": points, "period_s": period, "residuals": count, **glitches}


def measure_swaps(swapped: list[np.ndarray], tracks: list[Track], period_s: float) -> dict:
    frames = sum(int(s.sum()) for s in swapped)
    present = sum(int(t.present.sum()) for t in tracks)
    count = sum(len(runs(s)) for s in swapped)
    return {"share": frames / max(present, 1),
            "run_s": frames * period_s / count if count else 0.0}


def measure_drops(tracks: list[Track], period_s: float) -> dict:
    """Per joint the share of frames (body seen) with confidence 0; mean run length, seconds,
    of such drops (pooled over joints; runs cut by a track's ends count as they are); the same
    for frames where the whole body was missed."""
    dropped, frames, joint_runs = np.zeros(skeleton.NUM_JOINTS), 0, 0
    body_missed, body_frames, body_runs = 0, 0, 0
    for track in tracks:
        present = track.present
        unseen = (track.confidence[present] <= 0)
        dropped += unseen.sum(axis=0)
        frames += int(present.sum())
        joint_runs += sum(len(runs(unseen[:, j])) for j in range(skeleton.NUM_JOINTS))
        body_missed += int((~present).sum())
        body_frames += len(present)
        body_runs += len(runs(~present))
    return {"joint_share": dropped / max(frames, 1),
            "joint_run_s": float(dropped.sum() * period_s / joint_runs) if joint_runs else 0.0,
            "body_share": body_missed / max(body_frames, 1),
            "body_run_s": float(body_missed * period_s / body_runs) if body_runs else 0.0,
            "frames": frames}


def measure_video(tracks: list[Track], window_s: float = DEFAULT_WINDOW_S) -> dict:
    """Every figure of one video (one frame rate): swaps first, then on the tracks with their
    labels put back the jitter and glitches, the drops, and the bones without the glitches."""
    from nermo_ros.evaluation.bone_noise import measure_bones

    swapped = [left_right_swaps(t) for t in tracks]
    tracks = [unswapped(t, s) for t, s in zip(tracks, swapped)]
    jitter = measure_jitter(tracks, window_s)
    period, points = jitter["period_s"], jitter["points"]
    without_glitches = [replace(t, confidence=np.where(g, 0.0, t.confidence))
                        for t, g in zip(tracks, jitter.pop("glitch_masks"))]
    return {"tracks": len(tracks), "frame_rate_hz": round(1.0 / period, 2), "jitter": jitter,
            "swaps": measure_swaps(swapped, tracks, period),
            "bones": measure_bones(without_glitches, points, period),
            "drops": measure_drops(tracks, period)}


def combine(videos: list[dict], frame_rates_hz, timestamp_jitter_s: float,
            provenance: dict) -> PerceptionNoise:
    """One noise model from several videos' figures: the jitter weighted by residuals, the
    rest by person-frames."""
    weight = np.array([v["drops"]["frames"] for v in videos], dtype=np.float64)
    weight = weight / weight.sum()
    counts = np.stack([v["jitter"]["residuals"] for v in videos])  # (V, J)
    share = counts / np.maximum(counts.sum(axis=0), 1)
    variance = sum(s[:, None] * v["jitter"]["std_m"] ** 2 for s, v in zip(share, videos))

    def mean(part: str, key: str):
        return sum(w * np.asarray(v[part][key], dtype=np.float64) for w, v in zip(weight, videos))

    def rms(part: str, key: str):
        return np.sqrt(sum(w * np.nan_to_num(np.asarray(v[part][key], dtype=np.float64)) ** 2
                           for w, v in zip(weight, videos)))

    as_rows = lambda a: tuple(tuple(float(x) for x in row) for row in a)  # noqa: E731
    return PerceptionNoise(
        jitter_std_m=as_rows(np.sqrt(variance)),
        jitter_time_s=float(mean("jitter", "time_s")),
        glitch_share=tuple(float(x) for x in mean("jitter", "glitch_share")),
        glitch_std_m=as_rows(rms("jitter", "glitch_std_m")),
        glitch_run_s=float(mean("jitter", "glitch_run_s")),
        swap_share=float(mean("swaps", "share")),
        swap_run_s=float(mean("swaps", "run_s")),
        bone_drift=tuple(float(x) for x in rms("bones", "drift_std")),
        bone_drift_time_s=float(mean("bones", "drift_time_s")),
        depth_scale=float(mean("bones", "depth_scale")),
        joint_drop_share=tuple(float(x) for x in np.minimum(mean("drops", "joint_share"), 0.95)),
        joint_drop_run_s=float(mean("drops", "joint_run_s")),
        body_drop_share=float(mean("drops", "body_share")),
        body_drop_run_s=float(mean("drops", "body_run_s")),
        frame_rates_hz=tuple(float(r) for r in frame_rates_hz),
        timestamp_jitter_s=float(timestamp_jitter_s),
        provenance=provenance)
