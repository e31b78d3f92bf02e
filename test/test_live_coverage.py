"""Live coverage: each forecast horizon is scored once its time has come, against the person's
position interpolated between the frames around it."""

import numpy as np

from nermo_ros.forecasting.live_coverage import LiveCoverage
from nermo_ros.predictors.base import ForecastBatch
from nermo_ros.skeleton import NUM_JOINTS
from nermo_ros.tracking.window import TrackWindow

FRAME_NS = 40_000_000  # 25 Hz
HORIZONS_S = [0.1, 0.2]


def walk(live: LiveCoverage, frames: int, speed_mps: float = 1.0, radius_m: float = 0.15,
         hidden_joint: int | None = None) -> None:
    """A person walking along x at ``speed_mps``, each frame forecast to stand still there
    with the same radius everywhere."""
    window = TrackWindow(max_frames=30, max_age_s=1.0)
    observed = np.ones(NUM_JOINTS, bool)
    if hidden_joint is not None:
        observed[hidden_joint] = False
    for frame in range(frames):
        stamp_ns = frame * FRAME_NS
        pose = np.zeros((NUM_JOINTS, 3), np.float32)
        pose[:, 0] = speed_mps * stamp_ns * 1e-9
        window.append(stamp_ns, pose, observed)
        still = np.broadcast_to(pose, (1, len(HORIZONS_S), NUM_JOINTS, 3))
        radius = np.full((1, len(HORIZONS_S), NUM_JOINTS), radius_m, np.float32)
        live.update(stamp_ns, ["walker"], ForecastBatch(still, radius / 2.5, radius, 0.9),
                    {"walker": window})


def test_a_standing_forecast_of_a_walker_covers_the_near_horizon_only():
    live = LiveCoverage(HORIZONS_S, max_frames=100)
    walk(live, frames=60)
    summary = live.summary()
    # 0.1 m walked in 0.1 s is inside 0.15 m, 0.2 m in 0.2 s is not
    np.testing.assert_array_equal(summary.coverage_by_horizon, [1.0, 0.0])
    assert summary.coverage == 0.5
    np.testing.assert_allclose(summary.mean_radius_by_horizon_m, 0.15, rtol=1e-6)
    # frames 0..54 have their 0.2 s horizon in the past at frame 59 (5 frames later)
    assert summary.frames == 55
    assert summary.scored == 55 * 2 * NUM_JOINTS


def test_only_the_latest_frames_count_and_unseen_joints_are_not_scored():
    live = LiveCoverage(HORIZONS_S, max_frames=10)
    walk(live, frames=60, hidden_joint=3)
    summary = live.summary()
    assert summary.frames == 10
    assert summary.scored == 10 * 2 * (NUM_JOINTS - 1)


def test_a_walker_inside_a_wide_radius_is_always_covered():
    live = LiveCoverage(HORIZONS_S, max_frames=100)
    walk(live, frames=30, radius_m=0.25)
    assert live.summary().coverage == 1.0


def test_nothing_is_scored_before_any_future_has_arrived():
    live = LiveCoverage(HORIZONS_S, max_frames=100)
    walk(live, frames=2)
    summary = live.summary()
    assert summary.frames == 0 and summary.scored == 0 and np.isnan(summary.coverage)


def test_people_are_scored_together_per_frame_and_a_forgotten_one_stops_counting():
    live = LiveCoverage(HORIZONS_S, max_frames=100)
    windows = {"still": TrackWindow(30, 1.0), "walker": TrackWindow(30, 1.0)}
    seen = np.ones(NUM_JOINTS, bool)
    radius = np.full((2, len(HORIZONS_S), NUM_JOINTS), 0.15, np.float32)
    for frame in range(30):
        stamp_ns = frame * FRAME_NS
        poses = np.zeros((2, NUM_JOINTS, 3), np.float32)
        poses[1, :, 0] = stamp_ns * 1e-9  # 1 m/s
        for pose, window in zip(poses, windows.values()):
            window.append(stamp_ns, pose, seen)
        standing = np.broadcast_to(poses[:, None], (2, len(HORIZONS_S), NUM_JOINTS, 3))
        live.update(stamp_ns, list(windows), ForecastBatch(standing, radius / 2.5, radius, 0.9),
                    windows)
    np.testing.assert_array_equal(live.summary().coverage_by_horizon, [1.0, 0.5])
    del windows["walker"]  # the tracker forgot the walker
    scored = live.summary().scored
    for frame in range(30, 40):
        windows["still"].append(frame * FRAME_NS, np.zeros((NUM_JOINTS, 3), np.float32), seen)
        live.update(frame * FRAME_NS, [], None, windows)
    # the still person's last forecasts complete; the walker's never do
    assert live.summary().scored == scored + 5 * 2 * NUM_JOINTS
    assert live.summary().coverage_by_horizon[0] == 1.0
