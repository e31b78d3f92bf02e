"""`nermo-ros train --recipe`: stages in order, each from the one before, resumable in slices."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nermo_ros.checkpoint import load_raw
from nermo_ros.training.loop import _same_or_grown
from nermo_ros.training.recipe import (arm_start, carry_weights, first_unfinished, load_recipe,
                                       stage_config, stage_dir)

REPO = Path(__file__).resolve().parents[1]
CMU_DIR = Path(os.environ.get("NERMO_CMU_DIR", REPO.parent / "shared/data/cmu_mocap"))
needs_data = pytest.mark.skipif(not (CMU_DIR / "train").is_dir(),
                                reason="CMU mocap data not present")


def test_the_shipped_protocol_recipe_chains_stages_that_keep_or_grow_the_network():
    stages = load_recipe(REPO / "config/recipe_cmu25_protocol.yaml")
    configs = [stage_config(stage, None) for stage in stages]
    assert [stage.steps for stage in stages][-1] == 1420  # the shipped stage 19's count
    for before, after in zip(configs, configs[1:]):
        assert _same_or_grown(dataclasses.asdict(before.model), after.model), after
        assert after.layout == before.layout == "cmu_protocol25"
    assert all(cfg.optim.max_minutes == 0 for cfg in configs)  # steps, not time, end a stage
    assert configs[2].seed == 4 and configs[-1].seed == 19  # the recipe's seed, else the config's


def test_the_node_models_recipe_chains_its_clean_and_camera_stages():
    stages = load_recipe(REPO / "config/recipe_body17_node.yaml")
    clean, camera = (stage_config(stage, None) for stage in stages)
    assert _same_or_grown(dataclasses.asdict(clean.model), camera.model)
    assert clean.layout == camera.layout == "nermo_body17"
    assert not clean.window.perception_noise and camera.window.noise_profiles  # camera stage last


# The speed_actions arm's tempo: the actions that are not gait at 0.75-1.25x (its siblings
# change one entry or add amplitude copies on top).
WIDER_TEMPO = {"basketball": 0.25, "soccer": 0.25, "jumping": 0.25, "basketball_signal": 0.25,
               "directing_traffic": 0.25}
ON_REVERSE_MORE = "recipe_cmu25_protocol_arm_reverse_more.yaml"


@pytest.mark.parametrize("arm, base_recipe, changed", [
    ("reverse_signals", "recipe_cmu25_protocol.yaml",
     {"window": {"time_reverse_share": 0.5,
                 "time_reverse_actions": ("directing_traffic", "basketball_signal")}}),
    ("encoder_dropout", "recipe_cmu25_protocol_arm_reverse_signals.yaml",  # an arm of an arm
     {"optim": {"dropout_scope": "encoder"}}),
    ("reverse_more", "recipe_cmu25_protocol_arm_reverse_signals.yaml",  # the outer list wins
     {"window": {"time_reverse_actions": ("directing_traffic", "basketball_signal",
                                          "basketball", "jumping")}}),
    ("speed_actions", ON_REVERSE_MORE,  # an arm of an arm's arm
     {"window": {"speed_jitter_actions": WIDER_TEMPO}}),
    ("speed_traffic", ON_REVERSE_MORE,  # speed_actions' siblings
     {"window": {"speed_jitter_actions": {**WIDER_TEMPO, "directing_traffic": 0.5}}}),
    ("speed_walking", ON_REVERSE_MORE,
     {"window": {"speed_jitter_actions": {**WIDER_TEMPO, "walking": 0.2}}}),
    ("amplitude_traffic", ON_REVERSE_MORE,
     {"window": {"speed_jitter_actions": WIDER_TEMPO,
                 "amplitude_copies_actions": {"directing_traffic": [0.7, 1.4]}}}),
    ("amplitude_traffic_wide", ON_REVERSE_MORE,
     {"window": {"speed_jitter_actions": WIDER_TEMPO,
                 "amplitude_copies_actions": {"directing_traffic": [0.6, 0.8, 1.25, 1.6]}}}),
    ("amplitude_signals", ON_REVERSE_MORE,
     {"window": {"speed_jitter_actions": WIDER_TEMPO,
                 "amplitude_copies_actions": {"directing_traffic": [0.7, 1.4],
                                              "basketball_signal": [0.8, 1.25]}}}),
    ("amplitude_actions", ON_REVERSE_MORE,
     {"window": {"speed_jitter_actions": WIDER_TEMPO,
                 "amplitude_copies_actions": {"directing_traffic": [0.7, 1.4],
                                              "basketball": [0.7, 1.4], "jumping": [0.7, 1.4],
                                              "soccer": [0.7, 1.4]}}}),
])
def test_an_arm_changes_its_base_recipe_from_its_first_stage_in_its_overrides_alone(
        arm, base_recipe, changed):
    base = load_recipe(REPO / "config" / base_recipe)
    stages = load_recipe(REPO / f"config/recipe_cmu25_protocol_arm_{arm}.yaml")
    first = arm_start(stages)
    assert len(stages) == len(base) and first > (arm_start(base) or 0)
    assert stages[:first] == base[:first]  # shared: the same folders, configs, steps, seeds
    for ours, theirs in zip(stages[first:], base[first:]):
        assert ours.name == f"{theirs.name}_{arm}" and ours.steps == theirs.steps
        mine = dataclasses.asdict(stage_config(ours, None))
        plain = dataclasses.asdict(stage_config(theirs, None))
        for section, values in changed.items():
            for key, value in values.items():
                assert mine[section][key] == value != plain[section][key]
                plain[section][key] = value
        assert mine == plain  # nothing else differs


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, complaint", [
    ("stages: []\n", "one key, `stages`"),
    ("stages: [{config: train_smoke.yaml, steps: 2}]\nseed: 3\n", "one key, `stages`"),
    ("stages: [{config: missing.yaml, steps: 2}]\n", "no training config"),
    ("stages: [{config: train_smoke.yaml, steps: 0}]\n", "positive whole number"),
    ("stages: [{config: train_smoke.yaml, steps: 2, lr: 0.1}]\n", "give config and steps"),
    ("stages: [{config: train_smoke.yaml}]\n", "give config and steps"),
])
def test_a_malformed_recipe_is_refused_naming_the_stage(tmp_path, text, complaint):
    (tmp_path / "train_smoke.yaml").write_text((REPO / "config/train_smoke.yaml").read_text())
    with pytest.raises(ValueError, match=complaint):
        load_recipe(_write(tmp_path / "recipe.yaml", text))


@pytest.mark.parametrize("arm, complaint", [
    ("{name: a, from_stage: 2}", "arm needs exactly name, from_stage, overrides"),
    ("{name: a-b, from_stage: 2, overrides: {optim: {lr: 0.1}}}", "arm name 'a-b'"),
    ("{name: a, from_stage: 3, overrides: {optim: {lr: 0.1}}}", "must be a stage of the base, 1-2"),
    ("{name: a, from_stage: 2, overrides: {optim: 0.1}}", "overrides are config sections"),
    ("{name: a, from_stage: 2, overrides: {optim: {learning_rate: 0.1}}}",
     "train_smoke.yaml with arm a.optim: unknown keys"),
])
def test_a_malformed_arm_is_refused_before_training(tmp_path, arm, complaint):
    _smoke_recipe(tmp_path)
    with pytest.raises(ValueError, match=complaint):
        load_recipe(_write(tmp_path / "arm.yaml", f"base: recipe.yaml\narm: {arm}\n"))
    good = "{name: a, from_stage: 2, overrides: {optim: {lr: 0.1}}}"
    _write(tmp_path / "arm.yaml", f"base: recipe.yaml\narm: {good}\n")
    with pytest.raises(ValueError, match="already has an arm named 'a'"):  # folders would clash
        load_recipe(_write(tmp_path / "arm2.yaml", f"base: arm.yaml\narm: {good}\n"))


def test_an_arm_of_an_arm_takes_both_changes_and_starts_where_the_outer_one_does(tmp_path):
    _smoke_recipe(tmp_path)
    _write(tmp_path / "recipe.yaml", "stages:\n" + "".join(
        f"  - {{config: train_smoke.yaml, steps: {steps}}}\n" for steps in (3, 2, 2)))
    _write(tmp_path / "inner.yaml", "base: recipe.yaml\narm: {name: slow, from_stage: 2, "
           "overrides: {optim: {lr: 0.1, weight_decay: 0.5}}}\n")
    outer = load_recipe(_write(tmp_path / "outer.yaml", "base: inner.yaml\narm: {name: fast, "
                               "from_stage: 3, overrides: {optim: {lr: 0.2}}}\n"))
    assert [stage.name for stage in outer] == ["train_smoke", "train_smoke_slow",
                                               "train_smoke_slow_fast"]
    assert arm_start(outer) == 2  # a run of the inner arm stands for stages 1-2
    last = stage_config(outer[2], None).optim
    assert (last.lr, last.weight_decay) == (0.2, 0.5)  # the outer arm wins a shared key
    assert stage_config(outer[1], None).optim.lr == 0.1


def test_a_missing_recipe_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="recipe .*nope.yaml does not exist"):
        load_recipe(tmp_path / "nope.yaml")


def _smoke_recipe(folder: Path) -> Path:
    (folder / "train_smoke.yaml").write_text((REPO / "config/train_smoke.yaml").read_text())
    return _write(folder / "recipe.yaml", "stages:\n"
                  "  - {config: train_smoke.yaml, steps: 3}\n"
                  "  - {config: train_smoke.yaml, steps: 2, seed: 5}\n")


def _smoke_arm(folder: Path) -> Path:
    """An arm of ``_smoke_recipe`` changing its second stage."""
    _smoke_recipe(folder)
    return _write(folder / "arm.yaml", "base: recipe.yaml\narm: {name: backwards, from_stage: 2, "
                  "overrides: {window: {time_reverse_share: 0.5}}}\n")


def _train(recipe: Path, out: Path, *more: str, fold: str = "0") -> int:
    from nermo_ros.cli import main

    return main(["train", "--recipe", str(recipe), "--data", str(CMU_DIR), "--fold", fold,
                 "--folds", "5", "--device", "cpu", "--out", str(out), *more])


@pytest.mark.shared_data
@needs_data
def test_a_recipe_trains_each_stage_from_the_last_and_a_second_call_trains_nothing(tmp_path):
    recipe, out = _smoke_recipe(tmp_path), tmp_path / "fold0"
    assert _train(recipe, out) == 0
    stages = load_recipe(recipe)
    first, second = (load_raw(stage_dir(out, i, s) / "final.pt") for i, s in enumerate(stages))
    assert (first["step"], second["step"]) == (3, 2)
    assert second["train_config"]["init_from"] == str(stage_dir(out, 0, stages[0]) / "final.pt")
    assert second["train_config"]["seed"] == 5
    assert second["train_config"]["data"]["split"] == "fold"  # the command's split, every stage
    final = load_raw(out / "final.pt")
    assert final["params"].keys() == second["params"].keys()
    assert all((final["params"][k] == second["params"][k]).all() for k in final["params"])
    before = (out / "final.pt").stat().st_mtime_ns
    assert _train(recipe, out) == 0 and first_unfinished(stages, out) == 2
    assert (out / "final.pt").stat().st_mtime_ns == before


@pytest.mark.shared_data
@needs_data
def test_a_paused_recipe_goes_on_from_the_stage_it_stopped_in(tmp_path, capsys):
    recipe, out = _smoke_recipe(tmp_path), tmp_path / "fold0"
    assert _train(recipe, out, "--pause-after-minutes", "1e-6") == 0
    assert "recipe stopped" in capsys.readouterr().err
    stages = load_recipe(recipe)
    assert first_unfinished(stages, out) == 0 and (stage_dir(out, 0, stages[0]) / "last.pt").is_file()
    assert not (out / "final.pt").exists()
    assert _train(recipe, out) == 0
    assert load_raw(out / "final.pt")["step"] == 2 and first_unfinished(stages, out) == 2


@pytest.mark.shared_data
@needs_data
def test_an_arm_goes_on_from_the_same_splits_base_run_and_trains_only_its_own_stages(
        tmp_path, capsys):
    arm, base_run = _smoke_arm(tmp_path), tmp_path / "base" / "fold0"
    assert _train(tmp_path / "recipe.yaml", base_run, "--no-validate", "--last-stage", "1") == 0
    shared = stage_dir(base_run, 0, load_recipe(arm)[0]) / "final.pt"
    out = tmp_path / "arm" / "fold0"
    assert _train(arm, out, "--no-validate", "--shared-stages-from", str(base_run)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["02_train_smoke_backwards", "final.pt"]
    trained = load_raw(out / "final.pt")["train_config"]
    assert trained["init_from"] == str(shared) and trained["window"]["time_reverse_share"] == 0.5
    assert trained["seed"] == 5  # the base stage's own seed: the arm changes its override only
    capsys.readouterr()
    # another fold's weights would leak that fold's validation trials
    assert _train(arm, tmp_path / "arm" / "fold1", "--shared-stages-from", str(base_run),
                  fold="1") == 2
    assert "was trained on another split (fold 0 against 1)" in capsys.readouterr().err
    assert _train(arm, tmp_path / "arm2", "--shared-stages-from", str(tmp_path / "none")) == 2
    assert "has not finished stage 1 (train_smoke) of the base recipe" in capsys.readouterr().err
    assert _train(tmp_path / "recipe.yaml", tmp_path / "plain", "--shared-stages-from",
                  str(base_run)) == 2
    assert "this recipe is no arm" in capsys.readouterr().err


def test_flags_the_recipe_decides_are_refused_with_it(tmp_path):
    from nermo_ros.cli import main

    with pytest.raises(SystemExit, match="--steps, --seed cannot go with --recipe"):
        main(["train", "--recipe", str(_smoke_recipe(tmp_path)), "--steps", "5", "--seed", "2"])


@pytest.mark.shared_data
@needs_data
def test_a_recipe_can_stop_at_a_stage_end_and_go_on_from_its_weights_alone(tmp_path, capsys):
    recipe, out = _smoke_recipe(tmp_path), tmp_path / "fold0"
    assert _train(recipe, out, "--last-stage", "1") == 0
    stages = load_recipe(recipe)
    first = stage_dir(out, 0, stages[0])
    assert (first / "final.pt").is_file() and not stage_dir(out, 1, stages[1]).exists()
    assert not (out / "final.pt").exists()
    carried = tmp_path / "next_machine" / "fold0"  # what a machine lent in slices carries
    script = subprocess.run([sys.executable, str(REPO / "scripts/carry_weights.py"), str(tmp_path),
                             str(carried.parent)], capture_output=True, text=True, check=True)
    assert "fold0/01_train_smoke/final.pt" in script.stdout
    kept = first.parent.parent / "next_machine" / "fold0" / first.name / "final.pt"
    raw = torch.load(kept, weights_only=True)
    assert "training_state" not in raw
    assert all(v.dtype == torch.float16 for v in raw["params"].values() if v.is_floating_point())
    assert _train(recipe, carried) == 0
    assert load_raw(carried / "final.pt")["train_config"]["init_from"] == str(kept)
    done = carry_weights(carried, tmp_path / "third_machine")  # the last stage's weights only
    assert _train(recipe, done.parent.parent) == 0
    assert load_raw(done.parent.parent / "final.pt")["step"] == 2
    assert not (done.parent / "log.jsonl").exists()  # written again, not trained again
    with pytest.raises(FileNotFoundError, match="no finished stage"):
        carry_weights(tmp_path / "empty", tmp_path / "dest")
    earlier = subprocess.run([sys.executable, str(REPO / "scripts/carry_weights.py"), str(tmp_path),
                              str(tmp_path / "stage1"), "1"], capture_output=True, text=True)
    assert earlier.returncode == 0, earlier.stderr  # a stage the run has gone past, as asked
    assert "stage1/fold0/01_train_smoke/final.pt" in earlier.stdout
    assert "02_train_smoke" not in earlier.stdout
    capsys.readouterr()
    assert _train(recipe, tmp_path / "other", "--last-stage", "3") == 2
    assert "last stage 3: the recipe has stages 1-2" in capsys.readouterr().err


@pytest.mark.shared_data
@needs_data
def test_the_cpu_memory_warning_names_the_largest_batch_of_any_stage(tmp_path, capsys):
    smoke = (REPO / "config/train_smoke.yaml").read_text()
    (tmp_path / "train_smoke.yaml").write_text(smoke)
    big = smoke.replace("batch_size: 16", "batch_size: 48")
    assert big != smoke
    (tmp_path / "train_big.yaml").write_text(big)
    recipe = _write(tmp_path / "recipe.yaml", "stages:\n  - {config: train_smoke.yaml, steps: 1}\n"
                    "  - {config: train_big.yaml, steps: 1}\n")
    assert _train(recipe, tmp_path / "fold0", "--last-stage", "1") == 0
    assert "warning: batch_size 48 on the CPU" in capsys.readouterr().err
    assert _train(_smoke_recipe(tmp_path), tmp_path / "small", "--last-stage", "1") == 0
    assert "on the CPU may exhaust memory" not in capsys.readouterr().err


def _train_stages(recipe: Path, runs: Path, flags: str, **env: str) -> subprocess.CompletedProcess:
    """scripts/train_stages.sh on the CPU: two folds and the every-trial model, one at a
    time."""
    env = {**os.environ, "DEVICE": "cpu", "TRAIN_FLAGS": f"--data {CMU_DIR} {flags}",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           **env}
    return subprocess.run(["bash", str(REPO / "scripts/train_stages.sh"), str(recipe), str(runs),
                           "2", "0", "1"], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.shared_data
@needs_data
def test_the_stages_script_runs_every_split_to_the_asked_stage_and_names_failures(tmp_path):
    recipe = _smoke_recipe(tmp_path)
    done = _train_stages(recipe, tmp_path / "runs", "--no-validate --last-stage 1",
                         CARRY_TO=str(tmp_path / "carried"))
    assert done.returncode == 0, done.stderr
    summary = (tmp_path / "runs" / "summary.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in summary] == ["fold0", "fold1", "all"]
    for name, line in zip(("fold0", "fold1", "all"), summary):
        assert f"{name}/01_train_smoke/final.pt" in line and "steps a minute" in line
        assert not (tmp_path / "runs" / name / "02_train_smoke").exists()
    assert load_raw(tmp_path / "runs/all/01_train_smoke/final.pt")["train_config"]["data"][
        "split"] == "all"
    carried = torch.load(tmp_path / "carried/fold1/01_train_smoke/final.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in carried["params"].values())
    assert (tmp_path / "carried/summary.txt").read_text().splitlines() == summary
    failed = _train_stages(recipe, tmp_path / "bad", "--last-stage 9")
    assert failed.returncode == 1
    assert "runs that failed" in failed.stderr and "fold0 fold1 all" in failed.stderr
    assert "fold0: newest finished stage none; no steps trained" in failed.stdout
    arm = _smoke_arm(tmp_path)  # every split goes on from its own base run
    branched = _train_stages(arm, tmp_path / "arm", "--no-validate",
                             SHARED_RUNS=str(tmp_path / "runs"), GPUS="3")
    assert branched.returncode == 0, branched.stderr
    assert "started fold0 on GPU 3" in branched.stdout  # only the GPUs it was given
    for name in ("fold0", "fold1", "all"):
        assert load_raw(tmp_path / "arm" / name / "final.pt")["train_config"]["init_from"] == str(
            tmp_path / "runs" / name / "01_train_smoke" / "final.pt")
