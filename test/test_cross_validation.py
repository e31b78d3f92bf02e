"""The cross-validated table: each fold's model scores only its own validation trials, the
folds pool sample by sample, and checkpoints trained on another split are caught."""

from pathlib import Path

import numpy as np
import pytest

from nermo_ros.evaluation import benchmark, cross_validation
from nermo_ros.evaluation.folds import make_folds
from nermo_ros.evaluation.methods import future_times_s
from nermo_ros.training.config import DataConfig, TrainConfig


def _still_trial(frames: int) -> np.ndarray:
    """A body that never moves: 2 joints at fixed places, ``frames`` frames at 25 Hz."""
    return np.tile(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), (frames, 1, 1))


def _shifted_by(shift_m: float):
    """A 'predictor' that holds the newest frame, moved by ``shift_m`` along x: on a still
    body its error is exactly ``shift_m`` at every horizon and joint."""
    def run(batch):
        newest = batch.positions[:, -1:] + np.array([shift_m, 0.0, 0.0])
        return np.repeat(newest, len(future_times_s()), axis=1)
    return run


def test_pooled_table_scores_each_trial_with_its_own_folds_model():
    # Every window (stride 1): 40 frames -> 6 windows, 36 -> 2, 37 -> 3.
    trials = {"a": [Path("a_1"), Path("a_2")], "b": [Path("b_1")]}
    sequences = {Path("a_1"): _still_trial(40), Path("a_2"): _still_trial(36),
                 Path("b_1"): _still_trial(37)}
    folds = make_folds(trials, 2, seed=0)
    shift_mm = {0: 10.0, 1: 30.0}  # fold 0's model errs by 10 mm, fold 1's by 30 mm
    result = cross_validation.cross_validate(
        folds, sequences, lambda k: {"model": _shifted_by(shift_mm[k] / 1000)},
        benchmark.layout_metrics("nermo_body17"), "all", benchmark.SETTINGS[:1])
    assert [f.validation for f in folds] == [{"a": [Path("a_2")], "b": [Path("b_1")]},
                                             {"a": [Path("a_1")]}]
    rows = result["mpjpe_mm"]["complete"]["model"]
    assert result["samples"] == 11 and result["samples_per_action"] == {"a": 8, "b": 3}
    np.testing.assert_allclose(rows["a"], [(6 * 30.0 + 2 * 10.0) / 8] * 6)  # a_1 by fold 1
    np.testing.assert_allclose(rows["b"], [10.0] * 6)
    np.testing.assert_allclose(rows["average"], [(25.0 + 10.0) / 2] * 6)
    assert [f["fold"] for f in result["per_fold"]] == [0, 1]
    assert sum(f["samples"] for f in result["per_fold"]) == 11


def test_pooling_runs_with_different_methods_is_refused_naming_them():
    one = benchmark.Errors(["a"], {"mpjpe_mm": {"complete": {"x": np.zeros((1, 6))}}})
    other = benchmark.Errors(["a"], {"mpjpe_mm": {"complete": {"y": np.zeros((1, 6))}}})
    with pytest.raises(ValueError, match=r"\['x'\] against \['y'\]"):
        benchmark.pool([one, other])


def _fold(index=1):
    trials = {"a": [Path("a_1.txt.gz"), Path("a_2.txt.gz"), Path("a_3.txt.gz")]}
    return make_folds(trials, 3, seed=0)[index]


def _train_config(**data) -> dict:
    return TrainConfig(data=DataConfig(**data)).to_dict()


def test_a_checkpoint_trained_on_its_own_fold_passes():
    fold = _fold()
    config = _train_config(split="fold", fold=1, num_folds=3)
    assert cross_validation.fold_leak(config, {"trials": fold.validation_names()}, fold) is None
    assert cross_validation.fold_leak(config, {}, fold) is None  # trained without validation


def test_a_checkpoint_of_the_held_out_split_or_another_fold_is_flagged():
    fold = _fold()
    assert "'heldout'" in cross_validation.fold_leak({"model": {}}, {}, fold)  # before DataConfig
    assert "'all'" in cross_validation.fold_leak(_train_config(split="all"), {}, fold)
    other = cross_validation.fold_leak(_train_config(split="fold", fold=2, num_folds=3), {}, fold)
    assert "fold 2 of 3" in other and "not on fold 1 of 3" in other


def test_a_checkpoint_whose_fold_held_out_other_trials_is_flagged():
    fold = _fold()
    config = _train_config(split="fold", fold=1, num_folds=3)
    leak = cross_validation.fold_leak(config, {"trials": ["a_9.txt.gz"]}, fold)
    assert "a_9.txt.gz" in leak and "data folder" in leak


def test_checkpoint_templates_take_the_fold_and_layout_and_name_an_unknown_field():
    path = cross_validation.fold_checkpoint_path("runs/{layout}/fold{k}.pt", 3, "cmu_protocol25")
    assert path == Path("runs/cmu_protocol25/fold3.pt")
    with pytest.raises(ValueError, match="'fold'"):
        cross_validation.fold_checkpoint_path("runs/{fold}.pt", 3, "cmu_protocol25")



def test_a_checkpoint_pattern_must_match_exactly_one_file_per_fold(tmp_path):
    for stage in ("12_stage_a", "13_stage_b"):
        (tmp_path / "fold0" / stage).mkdir(parents=True)
        (tmp_path / "fold0" / stage / "final.pt").write_bytes(b"")
    path = cross_validation.fold_checkpoint_path(str(tmp_path / "fold{k}/12_*/final.pt"), 0,
                                                 "cmu_protocol25")
    assert path == tmp_path / "fold0" / "12_stage_a" / "final.pt"
    with pytest.raises(ValueError, match="matches .*12_stage_a.*13_stage_b"):
        cross_validation.fold_checkpoint_path(str(tmp_path / "fold{k}/1*/final.pt"), 0, "x")
    with pytest.raises(ValueError, match="fold 1.* matches no file"):
        cross_validation.fold_checkpoint_path(str(tmp_path / "fold{k}/12_*/final.pt"), 1, "x")
