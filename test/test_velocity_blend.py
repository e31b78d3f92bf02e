"""The constant-velocity blend: the model's own mix equals the benchmark's mix of its forecast
with the baseline's, a blend out of range is refused, and each fold's blend is chosen on the
other folds only (a zero-step training stage stores it: test_meta_training.py)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nermo_ros.checkpoint import load_checkpoint
from nermo_ros.evaluation import benchmark, methods, velocity_blend
from nermo_ros.predictors.baselines import ConstantVelocityPredictor

MODELS = Path(__file__).resolve().parents[1] / "models"


def _windows(seed=0):
    """Eight smooth 10-frame windows of 25 joints with a hidden joint, a joint never seen and
    a person whose newest two frames are missing."""
    rng = np.random.default_rng(seed)
    t = np.arange(10) * 0.04
    obs = (rng.normal(size=(8, 1, 25, 3)) * 0.3 + rng.normal(size=(8, 1, 25, 3)) * 0.5
           * t[None, :, None, None] + 0.01 * np.sin(5 * t)[None, :, None, None])
    mask = np.ones(obs.shape[:3], bool)
    mask[0, -1, 3] = False
    mask[1, :, 5] = False
    mask[2, -2:] = False
    return methods.window_batch(obs, mask), mask


def test_the_models_blend_is_the_baselines_line_mixed_in_with_a_decaying_share():
    ckpt = load_checkpoint(MODELS / "nermo_cmu_protocol25.pt")
    batch, mask = _windows()
    unblended = replace(ckpt.model_config, velocity_blend=0.0)
    plain = methods.nermo_method(ckpt.params, unblended, 3)(batch)
    blended = methods.nermo_method(ckpt.params, replace(unblended, velocity_blend=0.3,
                                                        velocity_blend_time_s=0.2), 3)(batch)
    line = ConstantVelocityPredictor().predict(batch, methods.future_times_s()).positions
    share = (0.3 * np.exp(-methods.future_times_s() / 0.2))[None, :, None, None]
    seen = mask.any(axis=1)[:, None, :, None]
    expected = np.where(seen, plain + share * (line - plain), plain)
    np.testing.assert_allclose(blended, expected, atol=1e-5)
    assert np.abs(blended - plain).max() > 1e-3  # the blend did something
    np.testing.assert_array_equal(blended[1, :, 5], plain[1, :, 5])  # never seen: untouched
    # the benchmark's grid rows make the same mix outside the model
    rows = velocity_blend.blended_rows("nermo", lambda b: plain, lambda b: line, [(0.3, 0.2)])
    np.testing.assert_allclose(rows["nermo_blend0.3_0.2"](batch), expected, atol=1e-5)


@pytest.mark.parametrize("field, value, words", [("velocity_blend", 1.5, "in \\[0, 1\\]"),
                                                 ("velocity_blend_time_s", 0.0, "> 0")])
def test_a_blend_outside_its_range_is_refused(field, value, words):
    ckpt = load_checkpoint(MODELS / "nermo_cmu_protocol25.pt")
    with pytest.raises(ValueError, match=f"{field} must be {words}"):
        replace(ckpt.model_config, **{field: value})


def _errors(per_row_mm: dict[str, float], samples=4, action="a"):
    rows = {n: np.full((samples, 6), mm) for n, mm in per_row_mm.items()}
    return benchmark.Errors([action] * samples, {"public38_mm": {"complete": rows}})


def test_each_fold_takes_the_blend_that_did_best_on_the_other_folds():
    grid = [(0.1, 0.08), (0.3, 0.32)]
    low, high = (velocity_blend.variant_name("m", *p) for p in grid)
    # fold 0 likes the high blend itself, but folds 1 and 2 prefer the low one
    parts = [_errors({"m": 10.0, low: 9.8, high: 9.0}),
             _errors({"m": 10.0, low: 9.0, high: 9.9}),
             _errors({"m": 10.0, low: 9.2, high: 9.6})]
    nested, record = velocity_blend.choose_nested(parts, "m", grid)
    # fold 0 on folds 1+2: low 9.1 against high 9.75; fold 1 on 0+2: 9.5 against 9.3;
    # fold 2 on 0+1: 9.4 against 9.45
    assert [(c["share"], c["time_constant_s"]) for c in record["per_fold"]] == [
        (0.1, 0.08), (0.3, 0.32), (0.1, 0.08)]
    assert (record["all_folds"]["share"], record["all_folds"]["time_constant_s"]) == (0.1, 0.08)
    rows = nested[0].mm["public38_mm"]["complete"]
    assert sorted(rows) == ["m", "m_blend_nested"]  # the grid rows are gone
    np.testing.assert_allclose(rows["m_blend_nested"], 9.8)  # fold 0 scored at the low blend
    np.testing.assert_allclose(nested[1].mm["public38_mm"]["complete"]["m_blend_nested"], 9.9)
    assert len(record["grid"]) == 2
    with pytest.raises(ValueError, match="at least two folds"):
        velocity_blend.choose_nested(parts[:1], "m", grid)
