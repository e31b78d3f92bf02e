"""Perception on real video: who was seen, under which ids, how fast, and what forecasts made of it.

``perceive_video`` runs the perception node's pipeline (``SkeletonPerception``) over every frame
of a file and times it; ``video_report`` sums that up (frames with people, bodies per frame,
tracks, identity jumps, latency) and, with ``forecasts``, runs the predictor node's own
per-frame core (``bag.offline``) over the published skeletons with NeRMo, constant velocity
and standing still, scored against what the camera then saw. ``frame_rate_budget`` replays
one video as a camera at a fixed rate with 1, 2 or 4 people in view (copies of the frame side
by side) and always processes the newest frame, dropping the ones that went by meanwhile,
as the node does; it reports how many were dropped and how old a result is when it is ready.

Times are this machine's CPU time per frame (decoding not included). On a shared 2-core
machine they vary from run to run; the reports say how many frames they rest on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from nermo_ros.perception.frame_source import FrameSource
from nermo_ros.perception.identity import IdentityCounts, IdentitySettings, IdentityTracker
from nermo_ros.perception.pipeline import CAMERA_FRAME_ID, FrameResult, SkeletonPerception
from nermo_ros.perception.pose import PoseConfig, PoseEstimator
from nermo_ros.stats import percentiles_ms

FORECAST_PREDICTORS = ("nermo", "constant_velocity", "zero_velocity")
START_TIME_S = 1_000.0  # stamps of a video's first frame; any positive time works
LAYOUTS = {1: (1, 1), 2: (1, 2), 4: (2, 2)}  # people -> rows, columns of copies
BUDGET_POSE_CONFIG = PoseConfig(min_detection_confidence=0.3)


@dataclass
class PerceivedVideo:
    """Every frame's stamp and result, the time ``process`` took, and the tracker's counts."""

    name: str
    stamps_s: list[float] = field(default_factory=list)
    results: list[FrameResult] = field(default_factory=list)
    latency_s: list[float] = field(default_factory=list)
    counts: IdentityCounts = field(default_factory=IdentityCounts)
    duplicates: int = 0


def perceive_video(path: str | Path, pose_config: PoseConfig = PoseConfig(),
                   identity_settings: IdentitySettings = IdentitySettings(),
                   max_frames: int | None = None) -> PerceivedVideo:
    """Every frame of a video (up to ``max_frames``) through the perception pipeline."""
    perceived = PerceivedVideo(Path(path).name)
    with FrameSource.video(str(path), start_time_s=START_TIME_S) as source, \
            PoseEstimator(pose_config) as estimator:
        perception = SkeletonPerception(estimator, IdentityTracker(identity_settings))
        for frame in source:
            if max_frames is not None and len(perceived.results) >= max_frames:
                break
            started_s = time.perf_counter()
            result = perception.process(frame.rgb, frame.stamp_s)
            perceived.latency_s.append(time.perf_counter() - started_s)
            perceived.stamps_s.append(frame.stamp_s)
            perceived.results.append(result)
        perceived.counts = perception.identities.counts
        perceived.duplicates = perception.duplicates_total
    return perceived


def summary(perceived: PerceivedVideo) -> dict:
    """Frames with people, bodies per frame, tracks, identity jumps, perception latency."""
    people = np.array([len(r.people) for r in perceived.results])
    ids = {p.track_id for r in perceived.results for p in r.people}
    p50, p99 = percentiles_ms(perceived.latency_s)
    counts = perceived.counts
    return {
        "video": perceived.name, "frames": len(people),
        "frames_with_people": int((people > 0).sum()),
        "bodies_per_frame_mean": round(float(people.mean()), 2) if people.size else 0.0,
        "frames_by_bodies": np.bincount(people).tolist() if people.size else [],
        "tracks": len(ids), "identity_jumps": counts.identity_jumps,
        "tracks_reacquired": counts.reacquired_after_occlusion,
        "duplicate_fits_dropped": perceived.duplicates,
        "bodies_over_max_tracks": counts.bodies_over_max_tracks,
        "perception_ms_p50": round(p50, 1), "perception_ms_p99": round(p99, 1),
    }


def skeleton_frames(perceived: PerceivedVideo, frame_id: str = CAMERA_FRAME_ID) -> list:
    """The published skeletons as the predictor's frames (``bag.messages.SkeletonFrame``)."""
    from nermo_ros.bag.messages import Person, SkeletonFrame

    frames = []
    for stamp_s, result in zip(perceived.stamps_s, perceived.results):
        stamp_ns = int(round(stamp_s * 1e9))
        people = tuple(Person(p.track_id, p.positions_m.reshape(-1), p.confidence)
                       for p in result.people)
        frames.append(SkeletonFrame(stamp_ns, frame_id, people, log_ns=stamp_ns))
    return frames


def forecast_report(perceived: PerceivedVideo,
                    predictors: tuple[str, ...] = FORECAST_PREDICTORS,
                    config_path: str | Path | None = None) -> dict:
    """Each predictor over the published skeletons, scored against the skeletons seen later,
    with the predictor node's parameters from ``config_path`` (None: the package default).

    Camera -> forecast latency is per frame: the perception time plus the predictor core's
    time for that frame (NeRMo's run), one after the other as in the two nodes, without the
    transport between them.
    """
    from nermo_ros.bag.evaluate import EvaluationInput, evaluate_offline
    from nermo_ros.bag.offline import node_params
    from nermo_ros.forecasting.settings import settings_from

    frames = skeleton_frames(perceived)
    report: dict = {}
    for name in predictors:
        settings = settings_from({**node_params(config_path), "predictor": name})
        data = EvaluationInput(perceived.name, "skeletons", frames, [], settings)
        evaluation, records = evaluate_offline(data)
        scores = evaluation.scores
        report[name] = {
            "mpjpe_mm_by_horizon": {f"{h:.2f}": _mm(e)
                                    for h, e in zip(scores.horizons_s, scores.mpjpe_by_horizon_m)},
            "share_forecast": round(scores.share_forecast, 3), "forecasts": scores.forecasts,
            "bone_change_pct_first_horizon": _bone_change_pct(frames, records),
        }
        if name == "nermo":
            total_s = np.add(perceived.latency_s, evaluation.latency_s[:len(perceived.latency_s)])
            p50, p99 = percentiles_ms(total_s)
            report["camera_to_forecast_ms_p50"] = round(p50, 1)
            report["camera_to_forecast_ms_p99"] = round(p99, 1)
    return report


def _bone_change_pct(frames, records) -> float | None:
    """Median |relative change| (%) of the bone lengths from the frame a forecast was made
    from to its first horizon, over every forecast and bone seen at both ends."""
    from nermo_ros.evaluation.bone_noise import bone_length_change
    from nermo_ros.skeleton import BONES

    seen = {(p.track_id, f.stamp_ns): p for f in frames for p in f.people}
    pairs = [(seen[(r.track_id, r.stamp_ns)], r) for r in records
             if (r.track_id, r.stamp_ns) in seen and len(r.time_offsets_s)]
    if not pairs:
        return None
    observed = np.stack([np.asarray(p.positions).reshape(-1, 3) for p, _ in pairs])
    confident = np.stack([np.asarray(p.confidence) > 0 for p, _ in pairs])
    first = np.stack([np.asarray(r.positions_m[0]) for _, r in pairs])
    change = np.abs(bone_length_change(observed, confident, first, BONES))
    return round(100.0 * float(np.nanmedian(change)), 2) if np.isfinite(change).any() else None


def _mm(error_m: float) -> float | None:
    """Millimetres, or None for a horizon nothing was scored at (the video ended first)."""
    return round(1e3 * float(error_m), 1) if np.isfinite(error_m) else None


def tiled(frames: list[np.ndarray], index: int, people: int) -> np.ndarray:
    """``people`` copies of the video side by side, each a few frames apart."""
    rows, cols = LAYOUTS[people]
    tiles = [frames[(index + 7 * k) % len(frames)] for k in range(rows * cols)]
    return np.ascontiguousarray(np.vstack([np.hstack(tiles[r * cols:(r + 1) * cols])
                                           for r in range(rows)]))


def read_frames(path: str | Path, max_frames: int) -> list[np.ndarray]:
    """Up to ``max_frames`` RGB frames of a video."""
    frames = []
    with FrameSource.video(str(path), start_time_s=0.0) as source:
        for frame in source:
            frames.append(frame.rgb)
            if len(frames) >= max_frames:
                break
    return frames


def person_region(frames: list[np.ndarray], margin: float = 0.15) -> tuple[slice, slice]:
    """(rows, columns) of the part of the frames a person moves in, with a margin: every
    joint MediaPipe reports in any of the frames, each image on its own."""
    low, high = np.ones(2), np.zeros(2)
    with PoseEstimator(PoseConfig(num_poses=1, video_mode=False)) as estimator:
        for rgb in frames[::max(1, len(frames) // 10)]:
            for body in estimator.estimate(rgb):
                low = np.minimum(low, body.image_xy.min(axis=0))
                high = np.maximum(high, body.image_xy.max(axis=0))
    if (high <= low).any():
        raise ValueError("nobody was found in the budget video; pick one with a person in it")
    low, high = np.clip(low - margin * (high - low), 0, 1), np.clip(high + margin * (high - low),
                                                                   0, 1)
    height, width = frames[0].shape[:2]
    return (slice(int(low[1] * height), int(np.ceil(high[1] * height))),
            slice(int(low[0] * width), int(np.ceil(high[0] * width))))


def budget_tiles(path: str | Path, max_frames: int, tile_height_px: int) -> list[np.ndarray]:
    """The video's frames cut to the person's region, ``tile_height_px`` rows each: so that
    copies side by side show people as large as the frame allows."""
    import cv2

    frames = read_frames(path, max_frames)
    rows, cols = person_region(frames)
    tiles = []
    for rgb in frames:
        part = rgb[rows, cols]
        size = (int(round(part.shape[1] * tile_height_px / part.shape[0])), tile_height_px)
        tiles.append(cv2.resize(part, size, interpolation=cv2.INTER_AREA))
    return tiles


def frame_rate_budget(path: str | Path, people: int, rate_hz: float = 30.0,
                      duration_s: float = 3.0, tile_height_px: int = 480,
                      pose_config: PoseConfig = BUDGET_POSE_CONFIG) -> dict:
    """A camera at ``rate_hz`` for ``duration_s``; always the newest frame, the rest dropped.

    The camera runs on a virtual clock that advances by the measured processing time of each
    frame, so the result is what a live node would do on this CPU without sleeping for it.
    ``num_poses`` is set to ``people``: while the task follows that many it skips the person
    detector, which is the configuration to run when the number of people is known. The
    detection threshold is lowered (``BUDGET_POSE_CONFIG``) because at the default MediaPipe's
    detector finds only some of four people that share a frame (each is a quarter of it).
    """
    if people not in LAYOUTS:
        raise ValueError(f"people={people}: the budget is measured for {sorted(LAYOUTS)}")
    frames = budget_tiles(path, int(rate_hz * duration_s), tile_height_px)
    period_s = 1.0 / rate_hz
    total = int(rate_hz * duration_s)
    processed, bodies, age_s, busy_s = 0, [], [], []
    with PoseEstimator(replace(pose_config, num_poses=people)) as estimator:
        perception = SkeletonPerception(estimator, IdentityTracker())
        now_s, last_index = 0.0, -1
        while True:
            index = int(now_s / period_s + 1e-9)  # the newest frame the camera has sent
            if index >= total:
                break
            if index == last_index:  # faster than the camera: wait for the next frame
                now_s = (index + 1) * period_s
                continue
            rgb = tiled(frames, index, people)
            started_s = time.perf_counter()
            result = perception.process(rgb, index * period_s)
            took_s = time.perf_counter() - started_s
            now_s = max(now_s, index * period_s) + took_s
            age_s.append(now_s - index * period_s)
            busy_s.append(took_s)
            bodies.append(result.bodies_found - result.duplicates)
            processed, last_index = processed + 1, index
    p50, p99 = percentiles_ms(busy_s)
    age_p50, age_p99 = percentiles_ms(age_s)
    return {
        "people_in_view": people, "num_poses": people,
        "min_detection_confidence": pose_config.min_detection_confidence,
        "camera_rate_hz": rate_hz,
        "frames_sent": total,
        "frames_processed": processed, "frames_dropped": total - processed,
        "processed_rate_hz": round(processed / duration_s, 1),
        "bodies_found_mean": round(float(np.mean(bodies)), 2) if bodies else 0.0,
        "perception_ms_p50": round(p50, 1), "perception_ms_p99": round(p99, 1),
        "result_age_ms_p50": round(age_p50, 1), "result_age_ms_p99": round(age_p99, 1),
        "keeps_up": processed == total,
    }
