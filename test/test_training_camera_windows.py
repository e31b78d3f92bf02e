"""Training windows drawn as a camera delivers them (window.frame_rates_hz,
timestamp_jitter_s, perception_noise): well-formed, at the camera's spacing, with the clean
future of the old windows."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from nermo_ros import skeleton
from nermo_ros.model import ModelConfig
from nermo_ros.training.config import WindowConfig, config_from_dict, load_config
from nermo_ros.training.windows import SequenceBank, sample_batch

ROOT = Path(__file__).resolve().parents[1]
J = skeleton.NUM_JOINTS
SPEED_MPS = 1.2
MODEL = ModelConfig(num_joints=J, layout=skeleton.LAYOUT_ID, time_unit_s=1.0,
                    position_unit_m=0.1, origin_joint=0)


def walking_bank(spec: WindowConfig, frames: int = 400) -> SequenceBank:
    """Every joint moving along x at SPEED_MPS at 50 Hz, joints spread along y; windows of
    ``spec`` fit."""
    t = np.arange(frames) / 50.0
    positions = np.zeros((frames, J, 3), dtype=np.float32)
    positions[..., 0] = SPEED_MPS * t[:, None]
    positions[..., 1] = np.arange(J)[None] * 0.05
    return SequenceBank(torch.from_numpy(positions),
                        torch.arange(frames - spec.span_raw + 1))


def camera_spec(**more) -> WindowConfig:
    values = dict(frame_rates_hz=(10.0, 15.0, 25.0, 30.0), joint_drop_max=0.0,
                  frame_drop_max=0.0, complete_fraction=1.0)
    values.update(more)
    return WindowConfig(**values)


def test_windows_at_camera_rates_keep_their_spacing_and_the_motion_in_step_with_the_stamps():
    spec = camera_spec()
    batch = sample_batch(walking_bank(spec), spec, MODEL, 256, torch.Generator().manual_seed(0))
    spacing_s = torch.diff(batch.obs_t, dim=1)
    rates = (1.0 / spacing_s.mean(dim=1)).numpy()
    assert set(np.round(rates).astype(int)) == {10, 15, 25, 30}
    assert torch.allclose(spacing_s, spacing_s[:, :1].expand_as(spacing_s))  # no stamp jitter
    assert torch.all(batch.obs_t[:, -1] == 0)
    # pelvis at the newest frame is the origin: x = speed * t, in 0.1 m units
    expected = SPEED_MPS * batch.obs_t / MODEL.position_unit_m
    assert torch.allclose(batch.obs_x[..., 0], expected[..., None].expand(-1, -1, J), atol=1e-3)
    assert torch.allclose(batch.fut_t[0], torch.arange(1, 26) * 0.04)
    assert torch.allclose(batch.fut_x[..., 0], (SPEED_MPS * batch.fut_t / 0.1)[..., None]
                          .expand(-1, -1, J), atol=1e-3)


def test_noisy_camera_windows_are_well_formed():
    spec = camera_spec(timestamp_jitter_s=0.005, perception_noise="config/perception_noise.yaml",
                       random_yaw=True, mirror=True, scale_jitter=0.1, speed_jitter=0.2,
                       joint_drop_max=0.5, frame_drop_max=0.5, complete_fraction=0.3)
    batch = sample_batch(walking_bank(spec), spec, MODEL, 512, torch.Generator().manual_seed(1))
    assert batch.obs_t.shape == (512, 10) and batch.fut_t.shape == (512, 25)
    assert batch.obs_x.shape == (512, 10, J, 3) and batch.fut_x.shape == (512, 25, J, 3)
    assert batch.obs_mask.shape == (512, 10, J)
    assert torch.all(torch.diff(batch.obs_t, dim=1) > 0) and torch.all(batch.obs_t[:, -1] == 0)
    assert torch.isfinite(batch.obs_x).all() and torch.isfinite(batch.fut_x).all()
    assert set(batch.obs_mask.unique().tolist()) <= {0.0, 1.0}
    assert 0.5 < batch.obs_mask.mean() < 0.95  # drops, not everything
    assert batch.obs_mask[:, -1].sum(dim=1).min() > 0  # the newest frame shows the body


def test_half_of_the_windows_carry_the_perception_noise():
    clean = sample_batch(walking_bank(camera_spec()), camera_spec(), MODEL, 400,
                         torch.Generator().manual_seed(2))
    spec = camera_spec(perception_noise="config/perception_noise.yaml",
                       perception_noise_share=0.5)
    half = sample_batch(walking_bank(spec), spec, MODEL, 400, torch.Generator().manual_seed(2))
    expected = SPEED_MPS * half.obs_t / MODEL.position_unit_m
    off = (half.obs_x[..., 0] - expected[..., None]).abs().amax(dim=(1, 2))
    assert 0.4 < float((off > 1e-3).float().mean()) < 0.6
    assert torch.allclose(clean.fut_t, half.fut_t)
    # The reconstruction target is the window before the noise: the walk itself.
    truth_off = (half.obs_target[..., 0] - expected[..., None]).abs().amax(dim=(1, 2))
    assert float(truth_off.max()) < 1e-3


def test_the_window_config_reaches_back_far_enough_for_the_slowest_camera():
    assert WindowConfig().span_raw == 9 * 2 + 25 * 2 + 1  # unchanged without camera keys
    assert camera_spec().span_raw == 9 * 5 + 25 * 2 + 2  # 10 Hz: 0.9 s of history
    with pytest.raises(ValueError, match=r"frame_rates_hz \[0\.0\]"):
        WindowConfig(frame_rates_hz=(0.0,))


def test_the_camera_training_config_loads_with_the_shipped_noise_file():
    cfg = load_config(ROOT / "config/train_body17_camera.yaml")
    assert cfg.window.frame_rates_hz == (10, 15, 25, 30) and cfg.window.camera_like
    base = load_config(ROOT / "config/train_body17_cv.yaml")
    assert replace(cfg.window, frame_rates_hz=(), timestamp_jitter_s=0.0, perception_noise="",
                   perception_noise_share=1.0) == base.window
    assert cfg.model == base.model
    with pytest.raises(ValueError, match="perception_noise_share"):
        config_from_dict({"window": {"perception_noise_share": 2.0}})


def test_noise_profiles_each_corrupt_their_share_of_the_windows(tmp_path):
    from nermo_ros.evaluation.perception_noise import PerceptionNoise, save_noise

    depth_only = PerceptionNoise(((0.05, 0.0, 0.0),) * J)
    vertical_only = PerceptionNoise(((0.0, 0.0, 0.05),) * J)
    files = [tmp_path / "depth.yaml", tmp_path / "vertical.yaml"]
    save_noise(files[0], depth_only)
    save_noise(files[1], vertical_only)
    spec = camera_spec(perception_noise=[str(f) for f in files], perception_noise_share=1.0)
    assert spec.noise_profiles == tuple(str(f) for f in files)
    batch = sample_batch(walking_bank(spec), spec, MODEL, 600, torch.Generator().manual_seed(3))
    expected = SPEED_MPS * batch.obs_t / MODEL.position_unit_m
    horizontal = (batch.obs_x[..., 0] - expected[..., None]).abs().amax(dim=(1, 2)) > 1e-3
    vertical = batch.obs_x[..., 2].abs().amax(dim=(1, 2)) > 1e-3
    assert not torch.any(horizontal & vertical)  # one profile per window
    assert torch.all(horizontal | vertical)  # share 1: every window is noisy
    assert 0.4 < float(vertical.float().mean()) < 0.6  # equal odds


def test_a_single_profile_draws_the_same_windows_as_a_plain_noise_file():
    plain = camera_spec(perception_noise="config/perception_noise.yaml", perception_noise_share=0.5)
    listed = camera_spec(perception_noise=["config/perception_noise.yaml"],
                         perception_noise_share=0.5)
    a = sample_batch(walking_bank(plain), plain, MODEL, 64, torch.Generator().manual_seed(4))
    b = sample_batch(walking_bank(listed), listed, MODEL, 64, torch.Generator().manual_seed(4))
    assert torch.equal(a.obs_x, b.obs_x) and torch.equal(a.obs_mask, b.obs_mask)


def test_noise_profiles_are_read_from_yaml_and_checked():
    cfg = config_from_dict({"window": {"perception_noise": ["a.yaml", "b.yaml"]}})
    assert cfg.window.perception_noise == ("a.yaml", "b.yaml")
    assert cfg.window.noise_profiles == ("a.yaml", "b.yaml") and cfg.window.camera_like
    assert WindowConfig().noise_profiles == ()
    with pytest.raises(ValueError, match="list of YAML paths"):
        config_from_dict({"window": {"perception_noise": ["a.yaml", ""]}})


def bone_lengths(x: torch.Tensor) -> torch.Tensor:
    parents, children = zip(*skeleton.BONES)
    return torch.linalg.norm(x[..., list(children), :] - x[..., list(parents), :], dim=-1)


def test_bone_proportions_change_per_window_and_hold_over_past_and_future():
    spec = camera_spec(bone_scale_jitter=0.3)
    bank = walking_bank(spec)
    batch = sample_batch(bank, spec, MODEL, 256, torch.Generator().manual_seed(5))
    source = bone_lengths(bank.positions_m[0]) / MODEL.position_unit_m  # every frame alike
    whole = torch.cat([batch.obs_x, batch.fut_x], dim=1)
    ratio = bone_lengths(whole) / source  # (B, frames, bones)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-4)  # kept in time
    assert float(ratio.min()) >= 0.7 - 1e-4 and float(ratio.max()) <= 1.3 + 1e-4
    assert float(ratio[:, 0].std(dim=0).min()) > 0.1  # each bone varies across windows
    assert float(ratio[:, 0].std(dim=1).min()) > 0.05  # bones vary within a window
    assert torch.allclose(batch.obs_x[:, -1, 0], torch.zeros(256, 3), atol=1e-5)  # root at origin
    plain = sample_batch(bank, camera_spec(), MODEL, 256, torch.Generator().manual_seed(5))
    assert torch.allclose(bone_lengths(plain.obs_x), source.expand(256, 10, -1), atol=1e-4)


def test_bone_proportions_are_refused_for_the_protocol_skeleton():
    with pytest.raises(ValueError, match="bone_scale_jitter needs the canonical skeleton"):
        config_from_dict({"layout": "cmu_protocol25",
                          "model": {"layout": "cmu_protocol25", "num_joints": 25},
                          "window": {"bone_scale_jitter": 0.2}})
    with pytest.raises(ValueError, match="bone_scale_jitter must lie"):
        WindowConfig(bone_scale_jitter=1.5)
