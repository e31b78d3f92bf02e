"""Calibrated cameras and triangulation: a 3D reference for what one camera's pose model says.

A single camera's MediaPipe skeleton has no ground truth to be scored against. Where several
calibrated, synchronised views of the same person exist (Pose2Sim's demo ships four with their
calibration, ``media.MULTIVIEW``), each joint's image positions in all views fix its 3D
position far better than one view's depth guess: ``triangulate`` solves the linear (DLT)
system on undistorted image coordinates, and ``reprojection_error_px`` says how well the views
agree. ``frame_offsets`` finds the whole-frame shifts that line the views up in time, since
their recordings need not start together.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Qualisys calibrations give image quantities in sub-pixels, 64 to the pixel.
QUALISYS_SUBPIXELS = 64.0
# The optical axes (x right, y down, z forward) in Qualisys' camera axes (y and z reversed).
QUALISYS_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with lens distortion.

    matrix: (3, 3) intrinsics in pixels; distortion: OpenCV's (k1, k2, p1, p2);
    rotation, translation: world (metres) -> optical axes, ``rotation @ x + translation``.
    """

    name: str
    matrix: np.ndarray
    distortion: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 2) pixels, distorted as the lens does."""
        import cv2

        rvec, _ = cv2.Rodrigues(self.rotation)
        pixels, _ = cv2.projectPoints(np.asarray(points, np.float64).reshape(-1, 1, 3), rvec,
                                      self.translation.astype(np.float64), self.matrix,
                                      self.distortion)
        return pixels.reshape(-1, 2)

    def undistort(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 2) pixels -> (N, 2) ideal normalised coordinates (x / z, y / z in optical axes)."""
        import cv2

        pixels = np.asarray(pixels, np.float64).reshape(-1, 1, 2)
        return cv2.undistortPoints(pixels, self.matrix, self.distortion).reshape(-1, 2)

    def depth_axis(self) -> np.ndarray:
        """The viewing direction (optical z) in world axes."""
        return self.rotation[2]


def read_qualisys_calibration(path: str | Path) -> tuple[Camera, ...]:
    """The cameras of a Qualisys ``.qca`` calibration (XML), in file order.

    Each camera's ``transform`` holds its position (mm) and an orientation whose rows, with the
    second and third reversed, are the optical axes in world coordinates; its ``intrinsic``
    holds focal lengths and principal point in sub-pixels and Brown distortion coefficients.
    """
    root = ET.parse(path).getroot()
    cameras = []
    for element in root.iter("camera"):
        transform, intrinsic = element.find("transform"), element.find("intrinsic")
        if transform is None or intrinsic is None:
            raise ValueError(f"{path}: camera {element.get('serial')!r} lacks a transform or "
                             "intrinsic element")
        t, i = transform.attrib, intrinsic.attrib
        orientation = np.array([[float(t[f"r{row}{col}"]) for col in "123"] for row in "123"])
        position_m = np.array([float(t[axis]) for axis in "xyz"]) / 1000.0
        rotation = QUALISYS_TO_OPTICAL @ orientation
        matrix = np.array([
            [float(i["focalLengthU"]), 0.0, float(i["centerPointU"])],
            [0.0, float(i["focalLengthV"]), float(i["centerPointV"])],
            [0.0, 0.0, QUALISYS_SUBPIXELS]]) / QUALISYS_SUBPIXELS
        distortion = np.array([float(i[key]) for key in (
            "radialDistortion1", "radialDistortion2", "tangentalDistortion1",
            "tangentalDistortion2")])
        cameras.append(Camera(name=element.get("serial", f"camera{len(cameras)}"),
                              matrix=matrix, distortion=distortion, rotation=rotation,
                              translation=-rotation @ position_m))
    if not cameras:
        raise ValueError(f"{path}: no <camera> elements; is it a Qualisys calibration?")
    return tuple(cameras)


def triangulate(cameras: tuple[Camera, ...], pixels: np.ndarray, valid: np.ndarray,
                max_error_px: float | None = None) -> np.ndarray:
    """(C, N, 2) pixels of N points in C views, (C, N) which are seen -> (N, 3) world points;
    NaN where fewer than two views see a point. With ``max_error_px``, a point's view that
    disagrees most (the largest reprojection error, above that) is left out and the point
    solved again, while more than two views remain: one view's wrong landmark (an arm hidden
    behind the body) then does not drag the point away from what the others agree on."""
    pixels, valid = np.asarray(pixels, np.float64), np.asarray(valid, bool)
    ideal = np.stack([camera.undistort(p) for camera, p in zip(cameras, pixels)])
    projections = np.stack([np.hstack([c.rotation, c.translation[:, None]]) for c in cameras])
    points = np.full((pixels.shape[1], 3), np.nan)
    for n in range(pixels.shape[1]):
        seen = valid[:, n] & np.isfinite(ideal[:, n]).all(axis=1)
        while seen.sum() >= 2:
            points[n] = _solve_point(ideal[seen, n], projections[seen])
            if max_error_px is None or seen.sum() == 2:
                break
            views = np.flatnonzero(seen)
            errors = [np.linalg.norm(cameras[v].project(points[n][None])[0] - pixels[v, n])
                      for v in views]
            if max(errors) <= max_error_px:
                break
            seen[views[int(np.argmax(errors))]] = False
    return points


def _solve_point(ideal: np.ndarray, projections: np.ndarray) -> np.ndarray:
    """The linear least-squares (DLT) point seen at ``ideal`` (V, 2) through (V, 3, 4)."""
    rows = [(xy[0] * P[2] - P[0], xy[1] * P[2] - P[1]) for xy, P in zip(ideal, projections)]
    _, _, vt = np.linalg.svd(np.concatenate(rows).reshape(-1, 4))
    return vt[-1, :3] / vt[-1, 3]


def reprojection_error_px(cameras: tuple[Camera, ...], points: np.ndarray, pixels: np.ndarray,
                          valid: np.ndarray) -> np.ndarray:
    """(C, N) distance in pixels between each view's seen point and the projection of its
    triangulated position; NaN where not seen or not triangulated."""
    errors = np.full(np.shape(valid), np.nan)
    for c, camera in enumerate(cameras):
        known = np.asarray(valid[c], bool) & np.isfinite(points).all(axis=1)
        if known.any():
            errors[c, known] = np.linalg.norm(camera.project(points[known]) - pixels[c][known],
                                              axis=1)
    return errors


def frame_offsets(cameras: tuple[Camera, ...], pixels: np.ndarray, valid: np.ndarray,
                  search: int = 6, frames_step: int = 3) -> tuple[int, ...]:
    """Whole-frame shifts that line the views up: ``pixels`` (C, F, N, 2) over F frames;
    view c's frame ``f + offsets[c]`` shows what view 0's frame f does.

    The score of a set of shifts is the median reprojection error of the points the views
    place together, over every ``frames_step``-th frame. Each view's shift within +-``search``
    is first chosen with view 0 alone (so no view's choice waits on another's misplaced
    frames), then once more with all views, each in turn.
    """
    count = pixels.shape[1]

    def median_error(views: list[int], shifts: list[int]) -> float:
        chosen = tuple(cameras[v] for v in views)
        errors = []
        for f in range(max(0, -min(shifts)), count - max(0, max(shifts)), frames_step):
            frame_pixels = np.stack([pixels[v, f + s] for v, s in zip(views, shifts)])
            frame_valid = np.stack([valid[v, f + s] for v, s in zip(views, shifts)])
            points = triangulate(chosen, frame_pixels, frame_valid)
            errors.append(reprojection_error_px(chosen, points, frame_pixels, frame_valid))
        return float(np.nanmedian(np.concatenate(errors, axis=1))) if errors else np.inf

    shifts = range(-search, search + 1)
    offsets = [0] + [min(shifts, key=lambda s: (median_error([0, c], [0, s]), abs(s)))
                     for c in range(1, len(cameras))]
    everyone = list(range(len(cameras)))
    for c in everyone[1:]:
        offsets[c] = min(shifts, key=lambda s: (
            median_error(everyone, offsets[:c] + [s] + offsets[c + 1:]), abs(s)))
    return tuple(offsets)
