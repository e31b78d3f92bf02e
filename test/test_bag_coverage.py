"""Bag evaluation scores the forecasts' radius: the share of joint-horizons inside it and its
mean size per horizon, from records and from a recorded forecast bag."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from nermo_ros.bag import convert, evaluate, io
from nermo_ros.bag.messages import ForecastRecord
from nermo_ros.bag.metrics import ground_truth, score
from nermo_ros.bag.report import write_outputs
from nermo_ros.data.clip import Clip
from nermo_ros.data.pybullet_clips import load_clip
from nermo_ros.skeleton import NUM_JOINTS
from nermo_ros.tracking.validation import BodyLimits

RATE_HZ = 20.0
HORIZONS_S = np.array([0.1, 0.5, 1.0])
LIMITS = BodyLimits(max_distance_m=100.0, max_body_extent_m=3.0)


def glide(seconds: float = 3.0) -> Clip:
    """A real standing pose gliding along x at 1 m/s."""
    pose = load_clip().positions_m[0]
    times = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return Clip(times, pose[None] + times[:, None, None] * np.array([1.0, 0.0, 0.0]), "glide")


def standing_forecasts(frames, radius_m: float) -> list[ForecastRecord]:
    """Each frame forecast to stand still, with one radius for every joint and horizon."""
    records = []
    for frame in frames:
        (person,) = frame.people
        pose = person.positions.reshape(NUM_JOINTS, 3)
        records.append(ForecastRecord(
            person.track_id, frame.stamp_ns, HORIZONS_S,
            np.broadcast_to(pose, (len(HORIZONS_S), NUM_JOINTS, 3)).astype(np.float32),
            np.full((len(HORIZONS_S), NUM_JOINTS), radius_m / 2.5, np.float32), "zero_velocity",
            radius_m=np.full((len(HORIZONS_S), NUM_JOINTS), radius_m, np.float32), coverage=0.9))
    return records


def test_a_standing_forecast_of_a_glide_is_inside_its_radius_only_at_the_near_horizon():
    frames = convert.clip_frames(glide(), start_ns=0)
    scores = score(standing_forecasts(frames, 0.3), ground_truth(frames, 0.0, LIMITS))
    # 1 m/s: 0.1 m off at 0.1 s (inside 0.3 m), 0.5 m and 1 m later (outside)
    np.testing.assert_array_equal(scores.coverage_by_horizon, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(scores.mean_radius_by_horizon_m, 0.3, rtol=1e-6)
    expected = [sum(1 for k in range(len(frames)) if k / RATE_HZ + h <= 2.95 + 1e-9) * NUM_JOINTS
                for h in HORIZONS_S]
    assert scores.radius_scored_by_horizon.tolist() == expected
    assert scores.coverage == pytest.approx(expected[0] / sum(expected))
    assert scores.coverage_stated == pytest.approx(0.9)


def test_forecasts_without_a_radius_score_no_coverage():
    frames = convert.clip_frames(glide(), start_ns=0)
    records = [ForecastRecord(r.track_id, r.stamp_ns, r.time_offsets_s, r.positions_m,
                              r.uncertainty_m) for r in standing_forecasts(frames, 0.3)]
    scores = score(records, ground_truth(frames, 0.0, LIMITS))
    assert scores.radius_scored_by_horizon.sum() == 0 and np.isnan(scores.coverage)
    assert np.isfinite(scores.mpjpe_by_horizon_m).all()


def test_a_recorded_forecast_bag_carries_the_radius_and_its_coverage_is_scored(tmp_path):
    frames = convert.clip_frames(glide(), start_ns=0)
    convert.write_skeleton_bag(tmp_path / "bag", frames)
    data = evaluate.load_input(tmp_path / "bag")
    records = standing_forecasts(data.frames, 0.6)
    evaluate.write_forecast_bag(tmp_path / "forecasts", data, records)
    back, _ = io.read_forecasts(tmp_path / "forecasts")
    np.testing.assert_array_equal(back[3].radius_m, records[3].radius_m)
    assert back[3].coverage == pytest.approx(0.9)
    evaluation, _ = evaluate.evaluate_recorded(data, tmp_path / "forecasts")
    np.testing.assert_array_equal(evaluation.scores.coverage_by_horizon, [1.0, 1.0, 0.0])
    paths = write_outputs(evaluation, tmp_path / "out")
    summary = json.loads(paths[0].read_text())
    assert summary["coverage_by_horizon"] == {"0.100": 1.0, "0.500": 1.0, "1.000": 0.0}
    assert summary["mean_radius_mm_by_horizon"]["0.500"] == pytest.approx(600.0)
    assert summary["coverage_stated"] == pytest.approx(0.9)
    rows = list(csv.DictReader(paths[1].open()))
    assert [r["coverage"] for r in rows] == ["1.0", "1.0", "0.0"]
    assert "inside the radius" in evaluation.text()
