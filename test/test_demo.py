"""The demo's live error bookkeeping (known answers), its plot, and the demo command itself."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nermo_ros.cli import main
from nermo_ros.demo.live_error import LiveErrors
from nermo_ros.demo.plot import plot_error_vs_horizon
from nermo_ros.skeleton import NUM_JOINTS
from perception_media import write_astronaut_video

HORIZONS_S = [0.1, 0.4]
MS = 1_000_000
SPEED_MPS = 1.0


def walker_at(t_s: float) -> np.ndarray:
    """Every joint 1 m/s along x."""
    pose = np.zeros((NUM_JOINTS, 3))
    pose[:, 0] = SPEED_MPS * t_s
    return pose


def stream(errors: LiveErrors, stamps_ms, forecast_every: bool = True):
    known = np.ones(NUM_JOINTS, bool)
    for t_ms in stamps_ms:
        t_s = t_ms / 1000
        errors.observe("a", t_ms * MS, walker_at(t_s), known)
        if forecast_every:
            still = np.stack([walker_at(t_s)] * len(HORIZONS_S))
            moving = np.stack([walker_at(t_s + h) for h in HORIZONS_S])
            errors.forecast("a", t_ms * MS, {"still": still, "moving": moving})


def run_demo(*args: str, domain_base: int = 26, timeout_s: float = 120):
    """`nermo-ros demo ARGS` in a process and DDS domain of its own, from the checkout."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_base + os.getpid() % 4),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    return subprocess.run([sys.executable, "-m", "nermo_ros.cli", "demo", *args], env=env,
                          capture_output=True, text=True, timeout=timeout_s,
                          cwd=Path(__file__).resolve().parents[1])


def test_standing_still_is_off_by_speed_times_horizon_and_a_perfect_forecast_by_zero():
    errors = LiveErrors(HORIZONS_S)
    stream(errors, range(0, 2000, 33))  # 30 Hz, so targets fall between frames
    np.testing.assert_allclose(errors.mpjpe_mm("still"), [100.0, 400.0], rtol=1e-6)
    np.testing.assert_allclose(errors.mpjpe_mm("moving"), [0.0, 0.0], atol=1e-6)
    assert errors.recent_mpjpe_mm("still", 0.4) == pytest.approx(400.0)


def test_a_forecast_is_scored_only_once_its_time_has_been_observed():
    errors = LiveErrors(HORIZONS_S)
    stream(errors, [0, 50, 100, 150, 200])
    # Forecasts made at 0..100 ms are scored at 0.1 s; none has reached its 0.4 s target.
    assert errors.count("still", 0.1) == 3
    assert errors.count("still", 0.4) == 0
    assert np.isnan(errors.mpjpe_mm("still")[1])


def test_truth_is_not_invented_across_a_gap_in_the_observations():
    errors = LiveErrors(HORIZONS_S)
    stream(errors, [0, 30, 60, 90])
    stream(errors, [1000, 1030], forecast_every=False)  # nothing seen for 0.9 s
    assert errors.count("still", 0.1) == 0  # 0.1..0.19 s lie in the gap


def test_time_going_back_drops_the_pending_forecasts():
    errors = LiveErrors(HORIZONS_S)
    stream(errors, [5000, 5033, 5066])
    stream(errors, range(0, 1000, 33), forecast_every=False)
    assert errors.count("still", 0.1) == 0


def test_the_plot_is_a_png(tmp_path):
    path = plot_error_vs_horizon(HORIZONS_S, {"a": np.array([1.0, 2.0]),
                                              "b": np.array([2.0, np.nan])},
                                 tmp_path / "plot.png", "title")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.ros
@pytest.mark.slow
def test_demo_command_streams_the_recorded_walk_and_writes_the_plot(tmp_path):
    plot = tmp_path / "error.png"
    result = run_demo("--duration", "4", "--plot", str(plot))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if "| frames in" in line]
    assert len(lines) >= 2
    assert "error at 400 ms: nermo" in lines[-1] and "standing still" in lines[-1]
    done = re.search(r"Done: (\d+) frames in, (\d+) forecasts out", result.stdout)
    skipped = re.search(r"The predictor skipped (\d+) frames", result.stdout)
    frames_in, forecasts_out = int(done.group(1)), int(done.group(2))
    answered = frames_in - (int(skipped.group(1)) if skipped else 0)
    assert frames_in >= 100  # 30 Hz for 4 s, each one counted over DDS
    # One forecast per frame the predictor took, but its first (a window needs 2 frames);
    # a track lost for over a second under heavy load would start over once or twice.
    assert answered - 3 <= forecasts_out <= answered - 1 and answered > frames_in / 2
    assert "zero_velocity baseline" in result.stdout
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.ros
@pytest.mark.slow
def test_demo_scores_forecasts_a_baseline_took_horizons_of_as_the_forecasters(tmp_path):
    # On the crawl the track record hands NeRMo's short horizons to constant velocity within
    # a second or so; those forecasts are still the node's, and count in its row.
    result = run_demo("--clip", "humanoid3d_crawl.txt", "--duration", "6", "--plot",
                      str(tmp_path / "error.png"), domain_base=34)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if "| frames in" in line]
    assert all(re.search(r"error at 400 ms: nermo +(\d+|--) mm", line) for line in lines)
    forecasts_out = int(re.search(r"(\d+) forecasts out\.", result.stdout).group(1))
    handed = re.search(r"(\d+) of (\d+) forecasts took a baseline at some horizon by the "
                       r"track record: constant_velocity at 0.08 s (\d+)x", result.stdout)
    assert handed, result.stdout[-2000:]
    assert int(handed.group(2)) == forecasts_out and 0 < int(handed.group(1)) <= forecasts_out
    (row,) = [line.split() for line in result.stdout.splitlines()
              if line.strip().startswith("nermo ")]
    assert len(row) == 1 + 9 and "--" not in row  # every horizon scored, under one name


def test_demo_settings_name_their_node_and_perception_ones_need_an_input(capsys):
    assert main(["demo", "--set", "video_realtime=false"]) == 2
    assert "must look like predictor.NAME=VALUE" in capsys.readouterr().err
    assert main(["demo", "--set", "perception.video_realtime=false"]) == 2
    assert "--set perception.* needs --input" in capsys.readouterr().err


@pytest.mark.ros
@pytest.mark.slow
def test_demo_reads_every_frame_of_a_fast_video_when_told(tmp_path):
    # 240 fps: in real time the perception node would skip most of these 24 frames
    video = write_astronaut_video(tmp_path / "fast.avi", num_frames=24, rate_hz=240.0)
    result = run_demo("--input", str(video), "--set", "perception.video_realtime=false",
                      "--plot", str(tmp_path / "error.png"), domain_base=30, timeout_s=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ended = [line for line in result.stderr.splitlines() if "ended after" in line]
    assert ended and "ended after 24 processed frames" in ended[0] and "skipped" not in ended[0]
    assert re.search(r"Done: 24 frames in", result.stdout)


@pytest.mark.ros
def test_demo_on_an_image_topic_nobody_publishes_says_so_at_the_end(tmp_path):
    result = run_demo("--input", "/camera/nobody_publishes", "--duration", "2",
                      "--plot", str(tmp_path / "error.png"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Done: 0 frames in, 0 forecasts out" in result.stdout
    assert "No frame came through from '/camera/nobody_publishes'" in result.stdout
    assert "ros2 topic hz /camera/nobody_publishes" in result.stdout
    assert not (tmp_path / "error.png").exists()


@pytest.mark.ros
def test_a_video_read_frame_by_frame_with_an_age_limit_shorter_than_it_is_refused(tmp_path):
    video = write_astronaut_video(tmp_path / "two_seconds.avi", num_frames=48, rate_hz=24.0)
    result = run_demo("--input", str(video), "--set", "perception.video_realtime=false",
                      "--set", "predictor.max_stamp_age_s=1.5",
                      "--plot", str(tmp_path / "error.png"), domain_base=30)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "this one plays 2 s" in result.stderr and "max_stamp_age_s (1.5 s)" in result.stderr
    assert "--set predictor.max_stamp_age_s=0" in result.stderr
    assert "Traceback" not in result.stderr
