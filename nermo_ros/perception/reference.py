"""How far one camera's MediaPipe skeleton is from where the person really was.

Every view of a calibrated multi-camera recording (``media.MULTIVIEWS``) goes through the
perception node's pose model. The joints' image positions in all views, triangulated
(``multiview``), give a 3D reference; each view's own 3D skeleton (hip-centred, in the camera's
axes, as the node publishes it) is then scored against that reference turned into the same
camera's axes. The error splits into the part along the camera's line of sight (what a single
image cannot see: depth) and the part across it, and into what Procrustes alignment removes
(a tilt, a size) and what it leaves (the pose itself).

The reference is not ground truth: it comes from the same pose model's 2D landmarks, so it
shares their biases, but not the depth guess of any one view. ``reprojection_px`` says how
well the views agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nermo_ros import skeleton
from nermo_ros.evaluation.bone_noise import PAIRED_BONES, bone_lengths_m
from nermo_ros.perception.multiview import (Camera, frame_offsets, read_qualisys_calibration,
                                            reprojection_error_px, triangulate)
from nermo_ros.perception.pose import PoseConfig, PoseEstimator

PELVIS = skeleton.JOINT_NAMES.index("pelvis")
# ``input_error_from`` over all four cameras of ``lab_4views`` (`nermo-ros perception
# reference`, 2026-11-30; BENCHMARKS.md): the perception node's default ``skeleton_error_m``.
LAB_SKELETON_ERROR_M = (0.055, 0.055, 0.157, 0.233, 0.325, 0.055, 0.157, 0.233, 0.325, 0.186,
                        0.217, 0.201, 0.235, 0.375, 0.201, 0.235, 0.375)
# A view whose landmark lands this far from where the other views put the joint is left out
# of that joint's triangulation (at the videos' 1080 x 1920, about 2 % of the image height).
OUTLIER_PX = 40.0
# A view whose landmarks land this far (median over the joints) from the reference in a frame
# reported another body or a wrong fit there: such frames are counted, not scored as pose error.
WRONG_FIT_PX = 80.0


@dataclass(frozen=True)
class ViewTrack:
    """One camera's pose model output for the first person it reports, frame by frame.

    pixels (F, J, 2); seen (F, J) joints above the visibility threshold; positions_m (F, J, 3)
    hip-centred body axes of the camera (x away from it, y left, z up), NaN without a person;
    rate_hz: the video's frame rate.
    """

    pixels: np.ndarray
    seen: np.ndarray
    positions_m: np.ndarray
    rate_hz: float


def perceive_view(path: str | Path,
                  pose_config: PoseConfig = PoseConfig(num_poses=1)) -> ViewTrack:
    """Every frame of one video through the pose model (video mode, frames in order)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    rate_hz = capture.get(cv2.CAP_PROP_FPS)
    if not rate_hz > 0:
        raise ValueError(f"video {path} states no frame rate")
    pixels, seen, positions = [], [], []
    joints = len(skeleton.JOINT_NAMES)
    with PoseEstimator(pose_config) as estimator:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            height, width = bgr.shape[:2]
            bodies = estimator.estimate(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
                                        len(pixels) / rate_hz)
            if bodies:
                pixels.append(bodies[0].image_xy * (width, height))
                seen.append(bodies[0].confidence > 0)
                positions.append(bodies[0].positions_m)
            else:
                pixels.append(np.full((joints, 2), np.nan))
                seen.append(np.zeros(joints, bool))
                positions.append(np.full((joints, 3), np.nan))
    capture.release()
    if not pixels:
        raise ValueError(f"video {path} has no frames")
    return ViewTrack(np.array(pixels), np.array(seen), np.array(positions, np.float64), rate_hz)


@dataclass(frozen=True)
class Reference:
    """The triangulated skeleton over the frames every view covers.

    frames: view 0's frame numbers; view c's matching frame is ``frames + offsets[c]``.
    points_m (F, J, 3) world; reprojection_px (C, F, J), NaN where a view does not see a joint.
    """

    cameras: tuple[Camera, ...]
    offsets: tuple[int, ...]
    frames: np.ndarray
    points_m: np.ndarray
    reprojection_px: np.ndarray


def triangulated_reference(cameras: tuple[Camera, ...], views: list[ViewTrack],
                           search_frames: int = 6,
                           max_error_px: float | None = OUTLIER_PX) -> Reference:
    """Line the views up in time (``frame_offsets``), then triangulate every joint of every
    frame that all views cover, leaving out a view that disagrees by over ``max_error_px``."""
    count = min(len(view.pixels) for view in views)
    pixels = np.stack([view.pixels[:count] for view in views])
    seen = np.stack([view.seen[:count] for view in views])
    offsets = frame_offsets(cameras, pixels, seen, search=search_frames)
    frames = np.arange(max(0, -min(offsets)), count - max(0, max(offsets)))
    points, errors = [], []
    for f in frames:
        frame_pixels = np.stack([pixels[c, f + s] for c, s in enumerate(offsets)])
        frame_seen = np.stack([seen[c, f + s] for c, s in enumerate(offsets)])
        points.append(triangulate(cameras, frame_pixels, frame_seen, max_error_px))
        errors.append(reprojection_error_px(cameras, points[-1], frame_pixels, frame_seen))
    return Reference(cameras, offsets, frames, np.array(points),
                     np.stack(errors, axis=1))


def _procrustes_aligned(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` (N, 3) moved, turned and scaled onto ``target`` as closely as it goes."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(a.T @ b)
    sign = np.sign(np.linalg.det(u @ vt))
    d = np.diag([1.0, 1.0, sign])
    rotation = u @ d @ vt
    scale = (sigma * np.diag(d)).sum() / (a ** 2).sum()
    return scale * a @ rotation + mu_t


def reference_in_camera_axes(reference: Reference, index: int) -> np.ndarray:
    """(F, J, 3) the reference as camera ``index``'s skeletons are published without depth:
    hip-centred, in that camera's body axes (x away from it, y left, z up)."""
    truth = skeleton.optical_to_body_frame(
        reference.points_m @ reference.cameras[index].rotation.T)
    return truth - truth[:, PELVIS:PELVIS + 1]


def _in_camera_axes(reference: Reference, view: ViewTrack,
                    index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ours, truth, present, wrong_fit) over the reference's frames: view ``index``'s skeleton
    and the reference, hip-centred in that camera's body axes; which joints both have, in
    frames where the view's landmarks fit the reference's person (``WRONG_FIT_PX``)."""
    frames = reference.frames + reference.offsets[index]
    ours = view.positions_m[frames] - view.positions_m[frames, PELVIS:PELVIS + 1]
    truth = reference_in_camera_axes(reference, index)
    with np.errstate(all="ignore"):
        wrong_fit = np.nanmedian(reference.reprojection_px[index], axis=1) > WRONG_FIT_PX
    present = view.seen[frames] & np.isfinite(truth).all(axis=2) & np.isfinite(ours).all(axis=2)
    return ours, truth, present & ~wrong_fit[:, None], wrong_fit


def _scored_error(ours: np.ndarray, truth: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(F, J, 3) ours - truth where scored, NaN elsewhere; the pelvis, zero by construction of
    hip-centred skeletons, is not scored."""
    scored = present.copy()
    scored[:, PELVIS] = False
    return np.where(scored[..., None], ours - truth, np.nan)


def skeleton_error_m(reference: Reference, view: ViewTrack, index: int) -> np.ndarray:
    """(F, J) distance of view ``index``'s joints from the reference's (NaN where not scored)."""
    return np.linalg.norm(_scored_error(*_in_camera_axes(reference, view, index)[:3]), axis=2)


def view_error(reference: Reference, view: ViewTrack, index: int) -> dict:
    """View ``index``'s own 3D skeleton against the reference in that camera's axes (mm), over
    the frames where its landmarks fit the reference's person (``WRONG_FIT_PX``)."""
    camera = reference.cameras[index]
    frames = reference.frames + reference.offsets[index]
    ours, truth, present, wrong_fit = _in_camera_axes(reference, view, index)
    error = _scored_error(ours, truth, present)
    distance = np.linalg.norm(error, axis=2)
    aligned = []
    for f in range(len(frames)):
        if present[f].sum() >= 4:
            fitted = _procrustes_aligned(ours[f, present[f]], truth[f, present[f]])
            aligned.extend(np.linalg.norm(fitted - truth[f, present[f]], axis=1))
    parents, children = (list(side) for side in zip(*skeleton.BONES))
    both = present[:, parents] & present[:, children]
    ratios = (bone_lengths_m(ours) / bone_lengths_m(truth))[both]
    change = np.diff(error, axis=0)
    return {
        "camera": camera.name,
        "frames": int(len(frames)),
        "wrong_fit_frames": int(wrong_fit.sum()),
        "joints_missing_pct": round(100.0 * (1.0 - view.seen[frames].mean()), 1),
        "mpjpe_mm": round(1e3 * float(np.nanmean(distance)), 1),
        "depth_mm": round(1e3 * float(np.nanmean(np.abs(error[..., 0]))), 1),
        "across_mm": round(1e3 * float(np.nanmean(np.linalg.norm(error[..., 1:], axis=2))), 1),
        "depth_bias_mm": round(1e3 * float(np.nanmean(error[..., 0])), 1),
        "procrustes_mm": round(1e3 * float(np.mean(aligned)), 1) if aligned else None,
        "bone_scale": round(float(np.median(ratios)), 3),
        "bone_change_pct": round(100.0 * float(np.median(np.abs(ratios - np.median(ratios)))), 1),
        "error_change_mm": round(1e3 * float(np.nanmean(np.linalg.norm(change, axis=2))), 1),
        "error_p90_mm": [None if j == PELVIS else round(1e3 * float(q), 1) for j, q in
                         enumerate(_p90(distance))],
    }


def _p90(errors_m: np.ndarray) -> np.ndarray:
    """(J,) the distance 90 % of each joint's scored errors stay within (NaN: none scored)."""
    with np.errstate(all="ignore"):
        return np.array([np.nanpercentile(column, 90) if np.isfinite(column).any() else np.nan
                         for column in errors_m.T])


def input_error_from(errors_m: list[np.ndarray]) -> list[float]:
    """A predictor's ``input_error_m`` (one value per joint) from cameras' skeleton errors
    ((F, J) each, pooled): the distance 90 % of each joint's errors stay within, the larger of
    each left/right pair (a camera may see either side; one scene's person need not turn
    both ways); the pelvis, which hip-centred skeletons cannot score, takes the hips'."""
    margin = _p90(np.concatenate(errors_m))
    index = skeleton.JOINT_NAMES.index
    for left, right in PAIRED_BONES:
        margin[index(left)] = margin[index(right)] = np.nanmax(margin[[index(left),
                                                                       index(right)]])
    margin[PELVIS] = margin[index("left_hip")]
    return [round(float(value), 3) for value in np.nan_to_num(margin)]


FORECAST_PREDICTORS = ("nermo", "constant_velocity", "zero_velocity")
TRACK_ID = "body_0"


def _frames(positions_m: np.ndarray, confidence: np.ndarray, frame_numbers: np.ndarray,
            rate_hz: float) -> list:
    """Skeleton frames of one person as the perception node publishes them (no depth); a
    frame where no joint is known has nobody in it."""
    from nermo_ros.bag.messages import Person, SkeletonFrame
    from nermo_ros.perception.pipeline import CAMERA_FRAME_ID

    frames = []
    for positions, conf, number in zip(positions_m, confidence, frame_numbers):
        stamp_ns = int(round(1e9 * (1.0 + number / rate_hz)))
        people = (Person(TRACK_ID, np.nan_to_num(positions).astype(np.float32).reshape(-1),
                         conf.astype(np.float32)),) if conf.any() else ()
        frames.append(SkeletonFrame(stamp_ns, CAMERA_FRAME_ID, people, log_ns=stamp_ns))
    return frames


def forecasts_against_reference(reference: Reference, view: ViewTrack, index: int,
                                predictors: tuple[str, ...] = FORECAST_PREDICTORS,
                                config_path: str | Path | None = None,
                                overrides: dict | None = None) -> dict:
    """Each predictor run as the predictor node would on view ``index``'s published skeletons,
    scored against where the reference says the joints then were (in that camera's axes,
    hip-centred, as the view's skeletons are): mm by horizon, the share of joint positions
    inside the forecasts' radius against the share the radius states (0: none stated), and the
    radius's mean over the horizons."""
    from nermo_ros.bag.metrics import ground_truth, score
    from nermo_ros.bag.offline import node_params, run_offline
    from nermo_ros.forecasting.settings import settings_from
    from nermo_ros.forecasting.truth import SCORING_MAX_GAP_S
    from nermo_ros.predictors.factory import make_predictor_from_params
    from nermo_ros.tracking.validation import BodyLimits

    numbers = np.arange(len(view.positions_m))
    published = _frames(view.positions_m, view.seen.astype(np.float32), numbers, view.rate_hz)
    truth_m = reference_in_camera_axes(reference, index)
    known = np.isfinite(truth_m).all(axis=2)
    truth_frames = _frames(np.where(known[..., None], truth_m, 0.0), known.astype(np.float32),
                           reference.frames + reference.offsets[index], view.rate_hz)
    report = {}
    for name in predictors:
        settings = settings_from({**node_params(config_path), **(overrides or {}),
                                  "predictor": name})
        run = run_offline(published, make_predictor_from_params(settings.as_params()), settings)
        truth = ground_truth(truth_frames, settings.min_joint_confidence,
                             BodyLimits(settings.max_distance_m, settings.max_body_extent_m))
        scores = score(run.records, truth, SCORING_MAX_GAP_S)
        report[name] = {
            "mpjpe_mm": {f"{h:.2f}": (round(1e3 * float(e), 1) if np.isfinite(e) else None)
                         for h, e in zip(scores.horizons_s, scores.mpjpe_by_horizon_m)},
            "radius_coverage": (round(scores.coverage, 3) if np.isfinite(scores.coverage)
                                else None),
            "radius_mean_m": (round(float(np.nanmean(scores.mean_radius_by_horizon_m)), 3)
                              if scores.mean_radius_by_horizon_m is not None else None),
            "coverage_stated": round(float(scores.coverage_stated), 3)}
    return report


def reference_report(videos: tuple[Path, ...], calibration: Path,
                     pose_config: PoseConfig = PoseConfig(num_poses=1),
                     forecasts: bool = True, config_path: str | Path | None = None) -> dict:
    """Everything ``perception reference`` prints: the views' agreement, each view's error and,
    with ``forecasts``, each predictor's error against the reference from each view."""
    cameras = read_qualisys_calibration(calibration)
    if len(cameras) != len(videos):
        raise ValueError(f"{calibration} has {len(cameras)} cameras for {len(videos)} videos")
    views = [perceive_view(path, pose_config) for path in videos]
    reference = triangulated_reference(cameras, views)
    report = {
        "offsets_frames": list(reference.offsets),
        "frames": int(len(reference.frames)),
        "reprojection_px_median": round(float(np.nanmedian(reference.reprojection_px)), 1),
        "reprojection_px_p90": round(float(np.nanpercentile(reference.reprojection_px, 90)), 1),
        "views": [view_error(reference, view, c) for c, view in enumerate(views)],
        "forecasts": [],
    }
    errors = [skeleton_error_m(reference, view, c) for c, view in enumerate(views)]
    report["input_error_m"] = input_error_from(errors)  # every camera's, for a node's YAML
    if not forecasts:
        return report
    for c, view in enumerate(views):
        forecast = forecasts_against_reference(reference, view, c, config_path=config_path)
        # "nermo + input margin": the radius widened by the other cameras' skeleton error
        # (input_error_m), as a camera the margin was not measured on would get it.
        margin = input_error_from(errors[:c] + errors[c + 1:])
        widened = forecasts_against_reference(reference, view, c, ("nermo",), config_path,
                                              {"input_error_m": margin})
        forecast["nermo + input margin"] = {
            **widened["nermo"], "input_error_m": margin}
        report["forecasts"].append(forecast)
    return report
