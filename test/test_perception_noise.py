"""The perception noise model: what the injector puts in is what the measurement gets back
(jitter std and correlation, drop share and run length, depth scale), and injected windows
stay well-formed."""

import numpy as np
import pytest
import torch

from nermo_ros import skeleton
from nermo_ros.evaluation import bone_noise
from nermo_ros.evaluation import noise_measurement as nm
from nermo_ros.evaluation.perception_noise import (PerceptionNoise, corrupt, drift_bones,
                                                   markov_runs, frame_times_s, load_noise,
                                                   save_noise)

J = skeleton.NUM_JOINTS
RATE_HZ = 30.0


def isotropic(std_m: float, time_s: float = 0.0, **more) -> PerceptionNoise:
    return PerceptionNoise(((std_m,) * 3,) * J, jitter_time_s=time_s, **more)


def standing_pose_m() -> np.ndarray:
    """(J, 3) a person standing with arms out sideways, pelvis at the origin."""
    pose = {"pelvis": (0, 0, 0), "left_hip": (0, 0.1, 0), "left_knee": (0, 0.1, -0.45),
            "left_ankle": (0, 0.1, -0.88), "left_toe": (0.15, 0.1, -0.93),
            "right_hip": (0, -0.1, 0), "right_knee": (0, -0.1, -0.45),
            "right_ankle": (0, -0.1, -0.88), "right_toe": (0.15, -0.1, -0.93),
            "neck": (0, 0, 0.5), "head": (0.02, 0, 0.7), "left_shoulder": (0, 0.18, 0.48),
            "left_elbow": (0, 0.45, 0.48), "left_wrist": (0, 0.7, 0.48),
            "right_shoulder": (0, -0.18, 0.48), "right_elbow": (0, -0.45, 0.48),
            "right_wrist": (0, -0.7, 0.48)}
    return np.array([pose[n] for n in skeleton.JOINT_NAMES], dtype=np.float64)


def turning_person(frames: int, turns_per_s: float = 0.3) -> np.ndarray:
    """(frames, J, 3) the standing pose turning about the vertical axis at 30 Hz."""
    angle = 2 * np.pi * turns_per_s * np.arange(frames) / RATE_HZ
    c, s = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([c, -s, 0 * c], -1), np.stack([s, c, 0 * c], -1),
                    np.stack([0 * c, 0 * c, 1 + 0 * c], -1)], axis=1)  # (N, 3, 3)
    return np.einsum("nij,kj->nki", rot, standing_pose_m())


def as_tracks(positions_m: np.ndarray, mask: np.ndarray | None = None) -> list[nm.Track]:
    """(B, N, J, 3) windows -> one track per window at 30 Hz."""
    times = np.arange(positions_m.shape[1]) / RATE_HZ
    conf = np.ones(positions_m.shape[:3]) if mask is None else mask.astype(float)
    return [nm.Track(times, p, c) for p, c in zip(positions_m, conf)]


def inject(noise: PerceptionNoise, clean_m: np.ndarray, windows: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(np.broadcast_to(clean_m, (windows,) + clean_m.shape).copy())
    return corrupt(x, torch.full((windows,), 1.0 / RATE_HZ, dtype=torch.float64), noise, gen)


def test_white_jitter_of_known_std_is_measured_back_within_five_percent():
    seen = inject(isotropic(0.01), turning_person(300), windows=8)
    jitter = nm.measure_jitter(as_tracks(seen.positions_m.numpy()))
    assert jitter["std_m"] == pytest.approx(np.full((J, 3), 0.01), rel=0.15)
    assert jitter["std_m"].mean() == pytest.approx(0.01, rel=0.05)
    assert jitter["time_s"] < 0.5 / RATE_HZ  # white: no correlation found


def test_correlated_jitter_is_measured_back_with_its_correlation_time():
    seen = inject(isotropic(0.008, time_s=0.08), turning_person(300), windows=8)
    jitter = nm.measure_jitter(as_tracks(seen.positions_m.numpy()))
    assert jitter["std_m"].mean() == pytest.approx(0.008, rel=0.1)
    assert jitter["time_s"] == pytest.approx(0.08, rel=0.25)


def test_glitches_of_known_share_and_size_are_told_apart_from_the_jitter():
    glitchy = isotropic(0.01, glitch_share=(0.05,) * J, glitch_std_m=((0.15,) * 3,) * J,
                        glitch_run_s=1.0 / RATE_HZ)
    seen = inject(glitchy, turning_person(300), windows=8)
    jitter = nm.measure_jitter(as_tracks(seen.positions_m.numpy()))
    assert jitter["std_m"].mean() == pytest.approx(0.01, rel=0.1)
    assert jitter["glitch_share"].mean() == pytest.approx(0.05, abs=0.01)
    assert jitter["glitch_std_m"].mean() == pytest.approx(0.15, rel=0.25)


def test_left_right_swaps_are_found_and_put_back():
    swapping = isotropic(0.0, swap_share=0.1, swap_run_s=0.1)
    clean = turning_person(600)
    seen = inject(swapping, clean, windows=4)
    tracks = as_tracks(seen.positions_m.numpy())
    swapped = [nm.left_right_swaps(t) for t in tracks]
    assert nm.measure_swaps(swapped, tracks, 1.0 / RATE_HZ)["share"] == pytest.approx(0.1,
                                                                                       abs=0.03)
    for track, flags in zip(tracks, swapped):
        assert np.allclose(nm.unswapped(track, flags).positions_m, clean)


def test_a_still_person_without_noise_has_no_jitter_and_no_bone_drift():
    tracks = as_tracks(turning_person(120, turns_per_s=0.0)[None])
    video = nm.measure_video(tracks)
    assert np.allclose(video["jitter"]["std_m"], 0.0, atol=1e-9)
    assert np.allclose(video["bones"]["raw_std"], 0.0, atol=1e-9)
    assert video["bones"]["asymmetry"]["wrist"] == pytest.approx(0.0, abs=1e-9)


def test_depth_jitter_moves_joints_only_along_one_horizontal_axis_per_window():
    depth_only = PerceptionNoise(((0.02, 0.0, 0.0),) * J)
    clean = turning_person(10)
    seen = inject(depth_only, clean, windows=16)
    offset = seen.positions_m.numpy() - clean  # (B, T, J, 3)
    assert np.allclose(offset[..., 2], 0.0)  # a level camera: depth is horizontal
    flat = offset.reshape(16, -1, 3)[..., :2]
    directions = np.linalg.svd(flat, compute_uv=False)  # rank 1 per window
    assert np.all(directions[:, 1] < 1e-9 * directions[:, 0] + 1e-12)
    assert np.std(offset[..., :2]) > 0.005


def test_a_depth_scale_is_measured_back_from_bone_lengths():
    clean = turning_person(300)
    x = torch.from_numpy(clean)[None]
    squeezed = PerceptionNoise(((0.0,) * 3,) * J, depth_scale=0.8)
    gen = torch.Generator().manual_seed(0)
    seen = corrupt(x, torch.tensor([1.0 / RATE_HZ], dtype=torch.float64), squeezed, gen)
    # the camera is the window's own: turn the result into camera axes to measure it
    axes = nm_camera_axes(seen.positions_m.numpy()[0], clean)
    bones = bone_noise.measure_bones(as_tracks((seen.positions_m.numpy()[0] @ axes)[None]), 7,
                             1.0 / RATE_HZ)
    assert bones["depth_scale"] == pytest.approx(0.8, abs=0.03)


def nm_camera_axes(squeezed: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """(3, 3) columns depth, lateral, vertical: depth is where squeezing shortened things."""
    change = (clean - squeezed).reshape(-1, 3)
    depth = change[np.argmax(np.linalg.norm(change, axis=1))]
    depth = depth / np.linalg.norm(depth)
    up = np.array([0.0, 0.0, 1.0])
    return np.stack([depth, np.cross(up, depth), up], axis=1)


def test_markov_runs_hide_the_configured_share_in_runs_of_the_configured_length():
    gen = torch.Generator().manual_seed(1)
    share = torch.tensor([0.05, 0.2, 0.4], dtype=torch.float64)
    period = torch.full((20,), 1.0 / RATE_HZ, dtype=torch.float64)
    dropped = markov_runs(20, 3000, share, 0.2, period, gen).numpy()  # (B, T, 3)
    assert dropped.mean(axis=(0, 1)) == pytest.approx([0.05, 0.2, 0.4], abs=0.015)
    lengths = [stop - start for b in range(20) for j in range(3)
               for start, stop in nm.runs(dropped[b, :, j])]
    assert np.mean(lengths) / RATE_HZ == pytest.approx(0.2, rel=0.1)


def test_dropped_joints_are_measured_back_from_the_confidence():
    share = tuple(0.3 if n.endswith("wrist") else 0.0 for n in skeleton.JOINT_NAMES)
    noisy = PerceptionNoise(((0.0,) * 3,) * J, joint_drop_share=share, joint_drop_run_s=0.1)
    seen = inject(noisy, turning_person(600), windows=10)
    drops = nm.measure_drops(as_tracks(seen.positions_m.numpy(), seen.joint_mask.numpy()),
                             1.0 / RATE_HZ)
    assert drops["joint_share"] == pytest.approx(share, abs=0.03)
    assert drops["joint_run_s"] == pytest.approx(0.1, rel=0.15)
    assert drops["body_share"] == 0.0


def test_bone_drift_scales_every_bone_and_leaves_the_pelvis():
    clean = torch.from_numpy(turning_person(3))[None]
    scale = torch.full((1, 3, len(skeleton.BONES)), 1.1, dtype=torch.float64)
    drifted = drift_bones(clean, scale).numpy()
    lengths_m = bone_noise.bone_lengths_m(clean.numpy())
    assert np.allclose(bone_noise.bone_lengths_m(drifted), 1.1 * lengths_m)
    assert np.allclose(drifted[..., 0, :], clean.numpy()[..., 0, :])


def test_injected_windows_are_well_formed_with_the_newest_frame_present():
    full = PerceptionNoise(((0.01, 0.005, 0.005),) * J, jitter_time_s=0.05,
                           bone_drift=(0.02,) * len(skeleton.BONES), depth_scale=0.9,
                           joint_drop_share=(0.1,) * J, joint_drop_run_s=0.2,
                           body_drop_share=0.3, body_drop_run_s=0.1)
    seen = inject(full, turning_person(10), windows=200)
    assert seen.positions_m.shape == (200, 10, J, 3)
    assert seen.joint_mask.shape == (200, 10, J) and seen.frame_valid.shape == (200, 10)
    assert torch.isfinite(seen.positions_m).all()
    assert seen.frame_valid[:, -1].all() and not seen.frame_valid.all()
    assert not (seen.joint_mask & ~seen.frame_valid[..., None]).any()


def test_frame_times_keep_the_rate_increase_and_end_at_zero():
    gen = torch.Generator().manual_seed(2)
    rates = torch.tensor([10.0, 15.0, 30.0] * 100, dtype=torch.float64)
    capture, stamps = frame_times_s(rates, 10, 0.01, gen)  # 30 Hz: jitter near half a period
    assert torch.all(stamps[:, -1] == 0) and torch.all(capture[:, -1] == 0)
    assert torch.all(torch.diff(stamps, dim=1) > 0)
    assert torch.allclose(capture[:, 0], -9.0 / rates)


def test_stamps_stray_from_the_capture_grid_by_the_configured_jitter():
    gen = torch.Generator().manual_seed(3)
    capture, stamps = frame_times_s(torch.full((400,), 15.0, dtype=torch.float64), 10, 0.005, gen)
    # each stamp's own error less the newest one's: sqrt(2) times the jitter
    assert float((stamps - capture)[:, :-1].std()) == pytest.approx(0.005 * 2 ** 0.5, rel=0.05)


def test_the_noise_model_reads_back_what_was_written(tmp_path):
    noise = isotropic(0.01, 0.05, joint_drop_share=(0.1,) * J, frame_rates_hz=(10.0, 30.0),
                      timestamp_jitter_s=0.004, provenance={"measured_on": "2026-11-29"})
    save_noise(tmp_path / "noise.yaml", noise, "a header\nof two lines")
    text = (tmp_path / "noise.yaml").read_text()
    assert text.startswith("# a header\n# of two lines\n") and "left_wrist" in text
    back = load_noise(tmp_path / "noise.yaml")
    assert back == noise and back.provenance["measured_on"] == "2026-11-29"


def test_a_noise_file_without_a_joint_is_refused_naming_it(tmp_path):
    values = isotropic(0.01).to_yaml_dict()
    del values["jitter_std_m"]["left_toe"]
    with pytest.raises(ValueError, match="left_toe"):
        PerceptionNoise.from_yaml_dict(values)
    with pytest.raises(FileNotFoundError, match="perception_noise --out"):
        load_noise(tmp_path / "absent.yaml")


def test_stamp_jitter_larger_than_a_frame_period_is_refused_with_the_limit():
    with pytest.raises(ValueError, match="0.033"):
        isotropic(0.0, frame_rates_hz=(30.0,), timestamp_jitter_s=0.05)


def test_the_shipped_noise_file_loads_and_names_its_videos_and_date():
    from nermo_ros.paths import SOURCE_ROOT

    noise = load_noise(SOURCE_ROOT / "config/perception_noise.yaml")
    assert noise.provenance["measured_on"] >= "2026-11-29"
    assert len(noise.provenance["videos"]) >= 1
    assert 0.0 < noise.jitter_rms_3d_m() < 0.2


@pytest.mark.slow
def test_mediapipe_on_the_packaged_lab_video_jitters_most_along_the_camera_axis():
    from nermo_ros.perception.benchmark import perceive_video
    from perception_media import packaged_video_or_skip

    path = packaged_video_or_skip("single")
    perceived = perceive_video(path, max_frames=60)
    tracks = nm.tracks_from_frames(perceived.stamps_s, [r.people for r in perceived.results])
    figures = nm.measure_video(tracks)
    std_mm = 1e3 * figures["jitter"]["std_m"][1:]  # the pelvis is the origin: no jitter
    assert figures["frame_rate_hz"] == 60.0 and figures["swaps"]["share"] == 0.0
    assert 2.0 < np.median(std_mm) < 50.0
    assert np.median(std_mm[:, 0]) > 1.5 * np.median(std_mm[:, 1:])  # depth is the weak axis


@pytest.mark.slow
def test_the_video_forecasts_run_with_the_predictor_parameters_given(tmp_path):
    from nermo_ros.perception.benchmark import forecast_report, perceive_video
    from perception_media import packaged_video_or_skip

    path = packaged_video_or_skip("single")
    perceived = perceive_video(path, max_frames=40)
    config = tmp_path / "predictor.yaml"
    config.write_text("predictor:\n  ros__parameters:\n    mirror_average: true\n")
    default = forecast_report(perceived, ("nermo",))["nermo"]
    mirrored = forecast_report(perceived, ("nermo",), config_path=config)["nermo"]
    assert default["forecasts"] == mirrored["forecasts"] > 0
    errors = [(a, b) for a, b in zip(default["mpjpe_mm_by_horizon"].values(),
                                     mirrored["mpjpe_mm_by_horizon"].values()) if a is not None]
    assert errors and any(abs(a - b) > 0.05 for a, b in errors)
