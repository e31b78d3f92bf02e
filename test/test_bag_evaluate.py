"""Offline bag evaluation on bags whose answer is known by hand."""

from __future__ import annotations

import csv
import dataclasses
import json
import re

import numpy as np
import pytest

from nermo_ros.bag import convert, evaluate, io
from nermo_ros.bag.messages import ForecastRecord
from nermo_ros.bag.metrics import ground_truth, interpolate, score
from nermo_ros.tracking.validation import BodyLimits
from nermo_ros.bag.report import write_outputs
from nermo_ros.cli import main as cli_main
from nermo_ros.data.clip import Clip
from nermo_ros.data.pybullet_clips import load_clip
from nermo_ros.skeleton import NUM_JOINTS

RATE_HZ = 20.0
HORIZONS_S = (0.1, 0.5, 1.0)

LIMITS = BodyLimits(max_distance_m=100.0, max_body_extent_m=3.0)


def moving_person(velocity_mps, seconds=4.0, rate_hz=RATE_HZ) -> Clip:
    """A real standing pose (first frame of the walk clip) gliding at a constant velocity."""
    pose = load_clip().positions_m[0]
    times = np.arange(int(seconds * rate_hz)) / rate_hz
    return Clip(times, pose[None] + times[:, None, None] * np.asarray(velocity_mps), "glide")


def evaluate_clip(tmp_path, clip, predictor, **params):
    convert.write_skeleton_bag(tmp_path / "bag", convert.clip_frames(clip))
    data = evaluate.load_input(tmp_path / "bag", overrides={
        "predictor": predictor, "horizons_s": list(HORIZONS_S), **params})
    return evaluate.evaluate_offline(data)


def test_a_person_standing_still_is_forecast_with_zero_error(tmp_path):
    for predictor in ("zero_velocity", "constant_velocity"):
        evaluation, _ = evaluate_clip(tmp_path / predictor, moving_person([0, 0, 0]), predictor)
        np.testing.assert_allclose(evaluation.scores.mpjpe_by_horizon_m, 0.0, atol=1e-6)
        np.testing.assert_allclose(evaluation.scores.mpjpe_by_joint_m, 0.0, atol=1e-6)


def test_zero_velocity_is_off_by_speed_times_horizon_and_constant_velocity_is_exact(tmp_path):
    velocity = [0.6, 0.8, 0.0]  # 1 m/s
    still, _ = evaluate_clip(tmp_path / "zero", moving_person(velocity), "zero_velocity")
    np.testing.assert_allclose(still.scores.mpjpe_by_horizon_m, HORIZONS_S, atol=1e-5)
    moving, _ = evaluate_clip(tmp_path / "cv", moving_person(velocity), "constant_velocity")
    np.testing.assert_allclose(moving.scores.mpjpe_by_horizon_m, 0.0, atol=1e-5)


def test_forecasts_are_scored_only_while_the_recording_lasts(tmp_path):
    evaluation, records = evaluate_clip(tmp_path, moving_person([1, 0, 0], seconds=4.0),
                                        "zero_velocity")
    frames = int(4.0 * RATE_HZ)
    assert evaluation.scores.inputs == frames
    assert evaluation.scores.inputs_forecast == frames - 1  # min_frames = 2: not the first
    assert evaluation.scores.share_forecast == pytest.approx((frames - 1) / frames)
    # a forecast made from frame k at horizon h is scored when k/20 + h <= the last stamp
    last_s = (frames - 1) / RATE_HZ
    expected = [sum(1 for k in range(1, frames) if k / RATE_HZ + h <= last_s + 1e-9)
                for h in HORIZONS_S]
    assert evaluation.scores.scored_by_horizon.tolist() == expected
    assert len(records) == frames - 1


def test_truth_is_interpolated_between_frames_and_not_across_gaps():
    stamps = np.array([0, 100, 200, 900, 1000]) * 1_000_000  # a 0.7 s gap after 0.2 s
    clip_positions = np.zeros((5, NUM_JOINTS, 3))
    clip_positions[:, :, 0] = (stamps * 1e-9)[:, None]  # x = time in seconds
    from nermo_ros.bag.metrics import TrackTruth

    truth = TrackTruth(stamps.astype(np.int64), clip_positions, np.ones((5, NUM_JOINTS), bool))
    query = np.array([50, 150, 500, 950, 1100]) * 1_000_000
    positions, valid = interpolate(truth, query, max_gap_s=0.25)
    np.testing.assert_allclose(positions[[0, 1, 3], 0, 0], [0.05, 0.15, 0.95])
    assert valid[:, 0].tolist() == [True, True, False, True, False]


def test_a_forecast_into_a_recording_gap_is_not_scored(tmp_path):
    clip = moving_person([0.5, 0, 0], seconds=3.0)
    keep = (clip.times_s < 1.0) | (clip.times_s > 2.0)  # one second missing
    gappy = Clip(clip.times_s[keep], clip.positions_m[keep], "gappy")
    evaluation, records = evaluate_clip(tmp_path, gappy, "zero_velocity")
    truth = ground_truth(evaluation_frames(tmp_path), 0.0, LIMITS)
    assert any("1 gaps (longest 1.100 s" in note for note in evaluation.notes)
    for record in records:
        target_s = record.stamp_ns * 1e-9 - 1767225600 + np.asarray(HORIZONS_S)
        in_gap = (target_s > 0.95 + 1e-6) & (target_s < 2.05 - 1e-6)  # strictly between frames
        scored = np.isfinite(score([record], truth).errors_m[0]).any(axis=1)
        assert not np.any(scored & in_gap)


def evaluation_frames(tmp_path):
    return io.read_skeleton_frames(tmp_path / "bag")[0]


def test_a_bag_that_jumps_back_in_time_starts_the_track_over_and_still_scores(tmp_path):
    clip = moving_person([0.5, 0, 0], seconds=2.0)
    frames = convert.clip_frames(clip)
    replayed = convert.clip_frames(clip, start_ns=frames[0].stamp_ns)  # the same 2 s again
    convert.write_skeleton_bag(tmp_path / "bag", frames + [
        type(f)(f.stamp_ns, f.frame_id, f.people, f.log_ns + 3 * 10**9) for f in replayed])
    # The replayed half was logged 3 s after its stamps: stale by the bag's clock, unless the
    # stale check is off (as it must be live too, to score such a bag).
    data = evaluate.load_input(tmp_path / "bag", overrides={"predictor": "zero_velocity",
                                                            "horizons_s": list(HORIZONS_S),
                                                            "max_stamp_age_s": 0.0})
    evaluation, _ = evaluate.evaluate_offline(data)
    assert any("backward time jumps" in n for n in evaluation.notes)
    # As in the node: the person is in the jumping frame, so the track restarts, not expires.
    assert any("1 track restarts" in n for n in evaluation.notes)
    assert not any("forgotten" in n for n in evaluation.notes)
    np.testing.assert_allclose(evaluation.scores.mpjpe_by_horizon_m,
                               0.5 * np.asarray(HORIZONS_S), atol=1e-5)


def test_outputs_hold_the_scores_in_json_csv_png_and_a_forecast_bag(tmp_path):
    evaluation, records = evaluate_clip(tmp_path, moving_person([1, 0, 0]), "zero_velocity")
    paths = write_outputs(evaluation, tmp_path / "out")
    summary = json.loads(paths[0].read_text())
    assert summary["mpjpe_mm_by_horizon"]["0.500"] == pytest.approx(500.0, abs=0.01)
    assert summary["mode"] == "offline" and summary["predictor"] == "zero_velocity"
    assert summary["latency_ms_p50"] > 0 and summary["latency_ms_p99"] >= summary["latency_ms_p50"]
    rows = list(csv.DictReader(paths[1].open()))
    assert [r["horizon_s"] for r in rows] == ["0.100", "0.500", "1.000"]
    joints = list(csv.DictReader(paths[2].open()))
    assert len(joints) == NUM_JOINTS and float(joints[0]["mpjpe_mm_at_1.000s"]) == \
        pytest.approx(1000.0, abs=0.01)
    assert paths[3].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = evaluate.load_input(tmp_path / "bag")
    evaluate.write_forecast_bag(tmp_path / "forecasts", data, records)
    back, _ = io.read_forecasts(tmp_path / "forecasts")
    assert len(back) == len(records)
    np.testing.assert_allclose(back[5].positions_m, records[5].positions_m)
    assert "/human_forecast/markers" in io.bag_topics(tmp_path / "forecasts")


def test_recorded_forecasts_score_the_same_as_the_run_that_made_them(tmp_path):
    evaluation, records = evaluate_clip(tmp_path, moving_person([1, 0, 0]), "zero_velocity")
    data = evaluate.load_input(tmp_path / "bag")
    evaluate.write_forecast_bag(tmp_path / "forecasts", data, records)
    rescored, back = evaluate.evaluate_recorded(data, tmp_path / "forecasts")
    assert len(back) == len(records) and rescored.predictor == "zero_velocity"
    np.testing.assert_allclose(rescored.scores.mpjpe_by_horizon_m,
                               evaluation.scores.mpjpe_by_horizon_m, atol=1e-6)
    # that bag logs each forecast at its input frame's time: zero latency by its clock
    assert rescored.latency_s == [0.0] * len(records)


def test_the_command_line_evaluates_a_converted_clip_and_names_bad_paths(tmp_path, capsys):
    bag = tmp_path / "walk"
    assert cli_main(["bag", "convert", "pybullet:humanoid3d_walk.txt", str(bag), "--cycles",
                     "2", "--storage", "sqlite3"]) == 0
    assert cli_main(["bag", "evaluate", str(bag), "--predictor", "constant_velocity", "--out",
                     str(tmp_path / "eval")]) == 0
    out = capsys.readouterr().out
    assert "offline evaluation of constant_velocity" in out and "MPJPE" in out
    assert (tmp_path / "eval" / "mpjpe.png").is_file()
    assert cli_main(["bag", "evaluate", str(tmp_path / "missing")]) == 2
    assert "no bag at" in capsys.readouterr().err


def test_frames_logged_long_after_their_stamps_are_dropped_as_stale_unless_set_off(tmp_path,
                                                                                   capsys):
    """A video read frame by frame, slower than it plays: each frame is logged later than the
    one before by more than its spacing, 2 s late at the end."""
    frames = convert.clip_frames(moving_person([1, 0, 0], seconds=4.0))
    lag_ns = [int(2e9 * i / (len(frames) - 1)) for i in range(len(frames))]
    convert.write_skeleton_bag(tmp_path / "bag", [
        dataclasses.replace(f, log_ns=f.stamp_ns + lag) for f, lag in zip(frames, lag_ns)])
    common = ["bag", "evaluate", str(tmp_path / "bag"), "--predictor", "constant_velocity"]

    assert cli_main(common + ["--out", str(tmp_path / "aged")]) == 0
    out = capsys.readouterr().out
    stale = int(re.search(r"dropped (\d+) skeletons: stale_stamp", out).group(1))
    assert stale == sum(lag > 1e9 for lag in lag_ns)  # max_stamp_age_s is 1 s by default
    assert "--set max_stamp_age_s=0" in out

    assert cli_main(common + ["--set", "max_stamp_age_s=0", "--out", str(tmp_path / "off")]) == 0
    out = capsys.readouterr().out
    assert "stale_stamp" not in out and "forecast 79/80 skeletons" in out
    assert cli_main(common + ["--set", "max_stamp_age_s"]) == 2
    assert "must look like predictor.NAME=VALUE" in capsys.readouterr().err


def test_a_record_with_the_wrong_track_is_not_scored():
    record = ForecastRecord("nobody", 0, np.array([0.1]), np.zeros((1, NUM_JOINTS, 3)),
                            np.zeros((1, NUM_JOINTS)))
    frames = convert.clip_frames(moving_person([0, 0, 0], seconds=1.0), start_ns=0)
    result = score([record], ground_truth(frames, 0.0, LIMITS))
    assert np.isnan(result.errors_m).all() and result.inputs_forecast == 0


class FailingPredictor:
    name, model_id = "broken", ""

    def predict(self, batch, horizons_s):
        raise RuntimeError("model file missing")

    def reset_track(self, track_id):
        pass


def test_a_failing_predictor_is_counted_and_reported_not_raised():
    from nermo_ros.bag.offline import run_offline
    from nermo_ros.forecasting.settings import settings_from
    from nermo_ros.tracking.validation import Reason

    frames = convert.clip_frames(moving_person([0, 0, 0], seconds=1.0))
    run = run_offline(frames, FailingPredictor(), settings_from({}))
    assert run.records == [] and run.counts[Reason.PREDICTOR_ERROR] == len(frames) - 1
    assert run.first_error == "broken failed: RuntimeError: model file missing"
