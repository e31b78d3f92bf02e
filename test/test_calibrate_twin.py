"""`nermo-ros calibrate --for`: a model trained on every trial has no trial left to calibrate
on, so its twin of the same recipe, trained without the held-out trials, is calibrated and the
result is written for the shipping model, saying which model it was fitted on."""

import json
import shutil

import pytest
import torch

from nermo_ros.checkpoint import load_checkpoint, load_raw, save_checkpoint
from nermo_ros.cli import main
from nermo_ros.commands.calibrate import twin_problem
from nermo_ros.forecasting.calibration_file import load_calibrations, sidecar_path
from nermo_ros.model import ModelConfig
from cmu_slices import CMU_DIR, tiny_slice
from predictor_fixtures import nermo_checkpoint

RECIPE = {"kind": "nermo", "layout": "nermo_body17", "model": {"width": 64},
          "window": {"obs_frames": 10}, "optim": {"lr": 0.0005}, "meta": {"eval_steps": 3}}


def test_the_twin_must_be_the_same_recipe_without_the_held_out_trials():
    twin = {**RECIPE, "data": {"split": "heldout"}, "init_from": "stage1.pt"}
    shipping = {**RECIPE, "data": {"split": "all"}, "init_from": "stage1_all.pt"}
    assert twin_problem(twin, shipping) == ""
    assert "every trial" in twin_problem(twin, twin)
    assert "without the held-out" in twin_problem(shipping, shipping)
    other = {**shipping, "window": {"obs_frames": 12}, "optim": {"lr": 0.001}}
    assert twin_problem(twin, other) == "not the same recipe: optim, window differ"


def test_a_setting_a_config_lacks_counts_as_its_default_and_the_run_length_not_at_all():
    twin = {**RECIPE, "data": {"split": "heldout"},
            "optim": {"lr": 0.0005, "steps": 1196, "dropout": 0.0},
            "window": {"obs_frames": 10, "time_reverse_share": 0.0}}
    shipping = {**RECIPE, "data": {"split": "all"},  # saved before those settings existed,
                "optim": {"lr": 0.0005, "steps": 60000, "max_minutes": 15}}  # run by time
    assert twin_problem(twin, shipping) == ""
    reversed_twin = {**twin, "window": {"obs_frames": 10, "time_reverse_share": 0.5}}
    assert twin_problem(reversed_twin, shipping) == "not the same recipe: window differ"


def variant(source: str, path, split: str, shift: float) -> str:
    """``source``'s checkpoint trained (so its config says) on ``split``, weights shifted so
    that its model id differs."""
    raw = load_raw(source)
    config = dict(raw["train_config"], data={"split": split})
    params = {k: v + shift if k == "z0" else v for k, v in raw["params"].items()}
    save_checkpoint(path, kind="nermo", layout=raw["layout"], num_joints=raw["num_joints"],
                    params=params, train_config=config,
                    model_config=ModelConfig.from_dict(raw["model_config"]),
                    validation=raw["validation"], default_steps=raw["default_steps"],
                    obs_window_s=raw["obs_window_s"])
    return str(path)


@pytest.mark.shared_data
@pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")
def test_calibrate_for_writes_the_twins_calibration_beside_the_shipping_model(tmp_path, capsys):
    source = nermo_checkpoint(tmp_path)
    twin = variant(source, tmp_path / "twin.pt", "heldout", 0.0)
    shipping = variant(source, tmp_path / "shipping.pt", "all", 1e-3)
    data = tmp_path / "cmu"
    for action in tiny_slice(data / "train", lines=200).iterdir():  # a second trial each,
        shutil.copy(action / f"{action.name}_1.txt", action / f"{action.name}_2.txt")  # so that _1 is held out
    shutil.copy(CMU_DIR / "skeleton.json", data)
    common = ["calibrate", "--data", str(data), "--steps", "1", "--noise", "",
              "--out", str(tmp_path / "out")]

    assert main(common + ["--checkpoint", shipping]) == 2  # no held-out trial left
    assert "trained on every trial" in capsys.readouterr().err
    assert main(common + ["--checkpoint", twin, "--for", twin]) == 2
    assert "every trial (data.split: all)" in capsys.readouterr().err
    assert not sidecar_path(twin).exists()

    assert main(common + ["--checkpoint", twin, "--for", shipping]) == 0
    assert not sidecar_path(twin).exists()
    shipping_id, twin_id = load_checkpoint(shipping).model_id, load_checkpoint(twin).model_id
    (calibration,) = load_calibrations(sidecar_path(shipping), shipping_id)
    assert calibration.num_adapt_steps == 1
    assert not calibration.mirror_average  # the node's default, recorded
    document = json.loads(sidecar_path(shipping).read_text())
    assert document["calibrations"][0]["info"]["fitted_on_model"] == twin_id
    with pytest.raises(ValueError, match="calibrates model"):
        load_calibrations(sidecar_path(shipping), twin_id)
    assert torch.isfinite(torch.as_tensor(calibration.score_quantile)).all()

    # The other mirror choice is added to the file, keeping the first.
    assert main(common + ["--checkpoint", twin, "--for", shipping, "--mirror-average"]) == 0
    both = load_calibrations(sidecar_path(shipping), shipping_id)
    assert sorted((c.num_adapt_steps, c.mirror_average) for c in both) == [(1, False), (1, True)]
