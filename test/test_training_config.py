"""Which trials a training run uses: the data keys of the YAML config and the train command's
split flags, on a synthetic data folder (only the file listing matters)."""

import argparse
import dataclasses
from pathlib import Path

import pytest
import torch

from nermo_ros.checkpoint import save_checkpoint
from nermo_ros.commands import train as train_command
from nermo_ros.training.config import DataConfig, TrainConfig, config_from_dict, load_config
from nermo_ros.training.loop import split_trials, training_files, weights_from

REPO = Path(__file__).resolve().parents[1]


def test_fold_keys_in_the_yaml_choose_a_cross_validation_fold():
    cfg = config_from_dict({"data": {"split": "fold", "fold": 2, "num_folds": 4, "fold_seed": 7}})
    assert cfg.data == DataConfig(split="fold", fold=2, num_folds=4, fold_seed=7)


def test_configs_without_data_keys_keep_the_held_out_split_they_were_trained_on():
    for name in ("train_cmu25.yaml", "train_body17_stage2.yaml", "train_smoke.yaml"):
        assert load_config(REPO / "config" / name).data.split == "heldout"


def test_a_fold_outside_the_folds_and_an_unknown_split_are_refused_with_the_value():
    with pytest.raises(ValueError, match=r"data.fold 5 does not exist.*0 \.\. 4"):
        config_from_dict({"data": {"split": "fold", "fold": 5, "num_folds": 5}})
    with pytest.raises(ValueError, match="'everything'"):
        config_from_dict({"data": {"split": "everything"}})
    with pytest.raises(ValueError, match=r"config.data: unknown keys \['folds'\]"):
        config_from_dict({"data": {"folds": 5}})


def _data_folder(root: Path) -> Path:
    """5 trials of two actions and 2 of a third, as empty files (splits only list them)."""
    for action, numbers in (("jumping", range(1, 6)), ("soccer", range(1, 6)),
                            ("directing_traffic", (1, 4))):
        (root / "train" / action).mkdir(parents=True)
        for n in numbers:
            (root / "train" / action / f"{action}_{n}.txt.gz").touch()
    return root


def _names(per_action):
    return sorted(p.name for files in per_action.values() for p in files)


def test_a_fold_trains_on_every_trial_but_its_own_validation_trials(tmp_path):
    root = _data_folder(tmp_path)
    every = set()
    for k in range(3):
        cfg = TrainConfig(data_dir=str(root), data=DataConfig(split="fold", fold=k, num_folds=3))
        files, validation = training_files(cfg)
        held = _names(validation)
        assert not set(held) & {p.name for p in files}
        assert len(files) + len(held) == 12
        every |= set(held)
    assert len(every) == 12  # each trial validated by one of the three folds


def test_all_trials_train_together_and_the_held_out_split_still_validates(tmp_path):
    root = _data_folder(tmp_path)
    everything = TrainConfig(data_dir=str(root), data=DataConfig(split="all"))
    files, validation = training_files(everything)
    assert len(files) == 12
    assert _names(validation) == ["directing_traffic_1.txt.gz", "jumping_1.txt.gz",
                                  "soccer_1.txt.gz"]
    train, held = split_trials(TrainConfig(data_dir=str(root)))
    assert sum(len(v) for v in train.values()) == 9 and _names(held) == _names(validation)


def _args(**given):
    defaults = dict(fold=None, all_trials=False, folds=None, fold_seed=None)
    return argparse.Namespace(**{**defaults, **given})


def test_the_fold_flags_override_the_config_and_name_the_run_folder():
    data = train_command._data_overrides(DataConfig(), _args(fold=3, folds=4, fold_seed=1))
    assert data == DataConfig(split="fold", fold=3, num_folds=4, fold_seed=1)
    assert train_command._run_suffix(data) == "_fold3of4"
    everything = train_command._data_overrides(DataConfig(), _args(all_trials=True))
    assert everything.split == "all" and train_command._run_suffix(everything) == "_all"
    with pytest.raises(ValueError, match="data.fold 4 does not exist"):
        train_command._data_overrides(DataConfig(), _args(fold=4, folds=4))


def _stage_checkpoint(path: Path, cfg: TrainConfig) -> Path:
    save_checkpoint(path, kind=cfg.kind, layout=cfg.layout, num_joints=cfg.model.num_joints,
                    params={"w": torch.zeros(2)}, train_config=cfg.to_dict())
    return path


def test_a_stage_starts_only_from_weights_that_never_saw_its_validation_trials(tmp_path):
    fold1 = TrainConfig(data=DataConfig(split="fold", fold=1, num_folds=5))
    same = _stage_checkpoint(tmp_path / "fold1.pt", fold1)
    assert torch.equal(weights_from(same, fold1)["w"], torch.zeros(2))
    heldout = _stage_checkpoint(tmp_path / "heldout.pt", TrainConfig())
    with pytest.raises(ValueError, match="'heldout'.*'fold': 1.*the same fold"):
        weights_from(heldout, fold1)
    other = _stage_checkpoint(tmp_path / "fold2.pt", dataclasses.replace(
        fold1, data=DataConfig(split="fold", fold=2, num_folds=5)))
    with pytest.raises(ValueError, match="validation trials"):
        weights_from(other, fold1)
    assert torch.equal(weights_from(heldout, TrainConfig())["w"], torch.zeros(2))
    with pytest.raises(ValueError, match="validation trials"):  # a fold saw held-out trials
        weights_from(same, TrainConfig())
    everything = TrainConfig(data=DataConfig(split="all"))
    assert torch.equal(weights_from(same, everything)["w"], torch.zeros(2))


def test_dropout_is_a_training_setting_and_the_model_section_refuses_it():
    assert config_from_dict({"optim": {"dropout": 0.1}}).optim.dropout == 0.1
    for key in ("dropout", "encoder_dropout"):
        with pytest.raises(ValueError, match="optim.dropout"):
            config_from_dict({"model": {key: 0.1}})
    scoped = lambda scope: config_from_dict(  # noqa: E731
        {"optim": {"dropout": 0.2, "dropout_scope": scope}}).optim.model_dropout()
    assert scoped("all") == {"dropout": 0.2, "encoder_dropout": 0.2}
    assert scoped("encoder") == {"dropout": 0.0, "encoder_dropout": 0.2}
    assert scoped("decoder") == {"dropout": 0.2, "encoder_dropout": 0.0}
    with pytest.raises(ValueError, match="optim.dropout_scope must be one of"):
        scoped("everywhere")
    with pytest.raises(ValueError, match=r"optim.dropout must be in \[0, 1\)"):
        config_from_dict({"optim": {"dropout": -0.1}})
    with pytest.raises(ValueError, match="kind nermo only"):
        config_from_dict({"kind": "dct_mlp", "optim": {"dropout": 0.1}})


def test_a_checkpoint_that_keeps_dropout_for_inference_is_refused(tmp_path):
    from nermo_ros.checkpoint import load_checkpoint

    cfg = TrainConfig()
    path = tmp_path / "dropping.pt"
    save_checkpoint(path, kind="nermo", layout=cfg.layout, num_joints=cfg.model.num_joints,
                    params={"w": torch.zeros(2)}, train_config=cfg.to_dict(),
                    model_config=dataclasses.replace(cfg.model, dropout=0.1))
    with pytest.raises(ValueError, match="dropout 0.1 for inference"):
        load_checkpoint(path)
    save_checkpoint(path, kind="nermo", layout=cfg.layout, num_joints=cfg.model.num_joints,
                    params={"w": torch.zeros(2)}, train_config=cfg.to_dict(),
                    model_config=dataclasses.replace(cfg.model, encoder_dropout=0.2))
    with pytest.raises(ValueError, match="dropout 0.2 for inference"):
        load_checkpoint(path)
    save_checkpoint(path, kind="nermo", layout=cfg.layout, num_joints=cfg.model.num_joints,
                    params={"w": torch.zeros(2)}, train_config=cfg.to_dict(), model_config=cfg.model)
    assert load_checkpoint(path).model_config.dropout == 0.0


def test_every_shipped_training_config_loads_and_names_files_that_exist():
    """The model card's recipes are commands on these files; one that no longer parses (a
    renamed key, a refused setting) or names a missing noise profile breaks a documented
    command silently until someone reruns it."""
    configs = sorted((REPO / "config").glob("train_*.yaml"))
    assert len(configs) > 30
    for path in configs:
        cfg = load_config(path)
        noise = cfg.window.perception_noise
        for profile in (noise,) if isinstance(noise, str) else noise:
            if profile:
                assert (REPO / profile).is_file(), f"{path.name}: {profile} is missing"
