"""`nermo-ros train` on real mocap: a few steps, checkpoints that resume, seeds that reproduce,
and the held-out trials never trained on."""

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from nermo_ros.checkpoint import load_checkpoint, load_raw
from nermo_ros.data import cmu
from nermo_ros.training.config import load_config
from nermo_ros.training.loop import (build_bank, nermo_loss, sample_batch, train, training_files,
                                     weights_from)
from nermo_ros.training.validation import validate

REPO = Path(__file__).resolve().parents[1]
CMU_DIR = Path(os.environ.get("NERMO_CMU_DIR", REPO.parent / "shared/data/cmu_mocap"))
pytestmark = [pytest.mark.shared_data,
              pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")]


def _config(steps):
    cfg = load_config(REPO / "config/train_smoke.yaml")
    return dataclasses.replace(cfg, data_dir=str(CMU_DIR), save_every=2,
                               optim=dataclasses.replace(cfg.optim, steps=steps, batch_size=4))


def test_held_out_trials_are_one_per_action_and_never_in_training():
    files, heldout = training_files(_config(1))
    held = [f for fs in heldout.values() for f in fs]
    assert all(len(fs) == 1 for fs in heldout.values())
    assert not set(held) & set(files)


def test_training_resumes_where_it_stopped_and_reproduces_an_uninterrupted_run(tmp_path):
    train(_config(2), tmp_path / "split")
    resumed = train(_config(4), tmp_path / "split")
    straight = train(_config(4), tmp_path / "straight")
    a, b = load_raw(resumed), load_raw(straight)
    assert a["step"] == b["step"] == 4
    for name, value in a["params"].items():
        assert torch.allclose(value, b["params"][name], atol=1e-6), name
    log_lines = (tmp_path / "split" / "log.jsonl").read_text().splitlines()
    assert len(log_lines) >= 2


def test_validation_reports_error_per_horizon_and_joint_on_the_held_out_trials(tmp_path):
    cfg = _config(1)
    final = load_raw(train(cfg, tmp_path / "run", validate_fn=validate))
    val = final["validation"]
    assert len(val["horizons_s"]) == 25 and len(val["mpjpe_joint_m"][0]) == 17
    assert all(name.endswith("_1.txt.gz") or name.endswith("_13.txt.gz") for name in val["trials"])


def test_train_command_writes_a_loadable_checkpoint_with_validation(tmp_path, capsys):
    from nermo_ros.cli import main

    rc = main(["train", "--config", str(REPO / "config/train_smoke.yaml"), "--data", str(CMU_DIR),
               "--steps", "2", "--device", "cpu", "--out", str(tmp_path / "run")])
    assert rc == 0
    ckpt = load_checkpoint(tmp_path / "run" / "final.pt", expect_layout="nermo_body17")
    assert ckpt.step == 2 and len(ckpt.validation["protocol_mpjpe_mm"]) == 6
    assert "mpjpe_mm" in capsys.readouterr().out


def test_a_paused_run_keeps_its_state_and_the_same_command_finishes_it(tmp_path):
    cfg = _config(4)
    paused = train(cfg, tmp_path / "run", pause_after_minutes=1e-6)
    assert paused.name == "last.pt" and not (tmp_path / "run" / "final.pt").exists()
    state = load_raw(paused)["training_state"]
    assert state["step"] < 4 and state["trained_s"] > 0
    final = train(cfg, tmp_path / "run")
    assert final.name == "final.pt" and load_raw(final)["step"] == 4


def test_a_second_stage_starts_from_the_first_stages_weights_and_refuses_other_shapes(tmp_path):
    from nermo_ros.training.loop import init_weights

    cfg = _config(2)
    first = train(cfg, tmp_path / "first")
    stage = dataclasses.replace(cfg, init_from=str(first))
    loaded = load_raw(first)["params"]
    start = init_weights(stage)
    assert start.keys() == loaded.keys()
    assert all(torch.equal(start[k], loaded[k]) for k in start)
    wider = dataclasses.replace(stage, model=dataclasses.replace(cfg.model, width=2 * cfg.model.width))
    with pytest.raises(ValueError, match="a stage must keep the shapes"):
        init_weights(wider)
    strided = dataclasses.replace(stage, model=dataclasses.replace(cfg.model, adapt_frame_stride=3))
    assert all(torch.equal(init_weights(strided)[k], loaded[k]) for k in loaded)
    parabolic = dataclasses.replace(stage, model=dataclasses.replace(cfg.model, velocity_fit="quadratic"))
    assert all(torch.equal(init_weights(parabolic)[k], loaded[k]) for k in loaded)


def test_a_stage_of_zero_steps_changes_only_the_adaptation_rule(tmp_path):
    cfg = _config(2)
    first = train(cfg, tmp_path / "first")
    stage = dataclasses.replace(cfg, init_from=str(first), optim=dataclasses.replace(cfg.optim, steps=0),
                                model=dataclasses.replace(cfg.model, adapt_frame_stride=3,
                                                          velocity_blend=0.2,
                                                          velocity_blend_time_s=0.32))
    final = train(stage, tmp_path / "stage")
    ckpt = load_checkpoint(final, expect_layout="nermo_body17")
    assert ckpt.model_config.adapt_frame_stride == 3 and ckpt.step == 0
    assert (ckpt.model_config.velocity_blend, ckpt.model_config.velocity_blend_time_s) == (0.2, 0.32)
    assert all(torch.equal(ckpt.params[k], v) for k, v in load_raw(first)["params"].items())


def test_augmented_windows_play_at_jittered_speeds_and_sizes_without_leaving_their_trial():
    from nermo_ros.model import ModelConfig
    from nermo_ros.training.config import WindowConfig
    from nermo_ros.training.windows import SequenceBank, sample_batch

    spec = WindowConfig(speed_jitter=0.2, scale_jitter=0.1, mirror=True, joint_drop_max=0.0,
                        frame_drop_max=0.0)
    model = ModelConfig(num_joints=25, layout="cmu_protocol25", origin_joint=-1)
    frames = torch.arange(400, dtype=torch.float32)
    positions = torch.zeros(400, 25, 3)
    positions[..., 2] = frames[:, None] * 0.01  # every joint rises 1 cm per raw frame
    bank = SequenceBank(positions, torch.arange(400 - spec.span_raw + 1))
    gen = torch.Generator()
    gen.manual_seed(0)
    batch = sample_batch(bank, spec, model, 512, gen)
    x = torch.cat([batch.obs_x, batch.fut_x], dim=1)[..., 2] * model.position_unit_m  # metres
    rise_per_frame = x.diff(dim=1)  # (B, 34, 25): constant within a window
    torch.testing.assert_close(rise_per_frame, rise_per_frame[:, :1].expand_as(rise_per_frame))
    # nominal: 2 raw frames per 25 Hz frame = 2 cm; speed and size jitter multiply it
    factor = rise_per_frame[:, 0, 0] / 0.02
    assert 0.8 * 0.9 - 1e-4 <= factor.min() < 0.85 and 1.15 < factor.max() <= 1.2 * 1.1 + 1e-4
    assert x.max() <= 399 * 0.01 * 1.1 + 1e-4  # never reads past the bank's last frame


def test_a_stage_may_add_blocks_that_start_as_the_identity(tmp_path):
    """A grown model forecasts exactly as the checkpoint it grew from; then training moves the
    added blocks. Removing blocks is refused."""
    from nermo_ros.meta import adapt_and_predict
    from nermo_ros.training.loop import init_weights

    cfg = _config(2)
    first = train(cfg, tmp_path / "first")
    old = load_raw(first)["params"]
    grown_model = dataclasses.replace(cfg.model, num_blocks=cfg.model.num_blocks + 1,
                                      encoder_blocks=cfg.model.encoder_blocks + 2)
    grown_cfg = dataclasses.replace(cfg, init_from=str(first), model=grown_model)
    grown = init_weights(grown_cfg)
    assert set(old) < set(grown)
    added = [k for k in grown if k not in old]
    assert any(k.startswith("encoder.blocks.") for k in added)
    assert any(k.startswith(f"blocks.{cfg.model.num_blocks}.") for k in added)
    gen = torch.Generator().manual_seed(0)
    b, n, j = 3, grown_model.encoder_frames or 10, grown_model.num_joints
    obs_t = torch.linspace(-0.36, 0.0, n).expand(b, n)
    obs_x = torch.randn(b, n, j, 3, generator=gen)
    mask = torch.ones(b, n, j)
    query = torch.linspace(0.04, 1.0, 25).expand(b, 25)
    before, _, _ = adapt_and_predict({k: v.float() for k, v in old.items()}, obs_t, obs_x, mask,
                                     old["z0"].expand(b, -1), query, steps=2, config=cfg.model)
    after, _, _ = adapt_and_predict(grown, obs_t, obs_x, mask, grown["z0"].expand(b, -1), query,
                                    steps=2, config=grown_model)
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)
    moved = load_raw(train(dataclasses.replace(grown_cfg, optim=dataclasses.replace(
        cfg.optim, steps=2)), tmp_path / "grown"))["params"]
    assert any(not torch.equal(moved[k], grown[k]) for k in added)
    shrunk = dataclasses.replace(cfg, init_from=str(tmp_path / "grown" / "final.pt"))
    with pytest.raises(ValueError, match="may only add blocks"):
        init_weights(shrunk)


def test_action_balance_draws_each_action_by_its_window_count_to_the_chosen_power(tmp_path):
    """window.action_balance b: an action with n windows is drawn in proportion to
    n ** (1 - b); 0 keeps every window alike, 1 every action alike. Refused outside [0, 1]."""
    from nermo_ros.training.config import WindowConfig
    from nermo_ros.training.windows import SequenceBank, action_odds

    actions = ["walking"] * 900 + ["running"] * 100
    for balance, running_share in ((0.0, 0.1), (0.5, 0.25), (1.0, 0.5)):
        odds = torch.as_tensor(action_odds(actions, balance), dtype=torch.float32)
        bank = SequenceBank(torch.zeros(1000, 1, 3), torch.arange(1000), odds)
        gen = torch.Generator()
        gen.manual_seed(1)
        drawn = bank.draw(40000, gen)
        share = (drawn >= 900).float().mean().item()
        assert abs(share - running_share) < 0.01, (balance, share)
    with pytest.raises(ValueError, match="action_balance"):
        WindowConfig(action_balance=1.5)


def test_dropout_changes_the_training_loss_but_not_the_checkpoint_or_its_forecasts(tmp_path):
    cfg = _config(2)
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, dropout=0.3))
    final = train(cfg, tmp_path / "run", validate_fn=validate)
    ckpt = load_checkpoint(final, expect_layout="nermo_body17")
    assert ckpt.model_config.dropout == 0.0  # inference never drops
    assert load_raw(final)["train_config"]["optim"]["dropout"] == 0.3  # the recipe is recorded
    weights = weights_from(final, cfg)
    files, _ = training_files(cfg)
    skeleton = cmu.load_skeleton(cmu.find_skeleton_json(Path(files[0]).parent.parent))
    bank = build_bank(files[:2], skeleton, cfg.layout, cfg.window.span_raw, torch.device("cpu"))
    batch = sample_batch(bank, cfg.window, cfg.model, 4, torch.Generator().manual_seed(0))
    with torch.no_grad():
        dropped = [float(nermo_loss(weights, batch, cfg, 1)) for _ in range(2)]
        plain_cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, dropout=0.0))
        plain = [float(nermo_loss(weights, batch, plain_cfg, 1)) for _ in range(2)]
        encoder_cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim,
                                                                         dropout_scope="encoder"))
        encoder_only = [float(nermo_loss(weights, batch, encoder_cfg, 1)) for _ in range(2)]
    assert dropped[0] != dropped[1] and plain[0] == plain[1]
    assert encoder_only[0] != encoder_only[1]  # the encoder's guess drops too (smoke: 1 block)
