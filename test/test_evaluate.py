"""The benchmark: protocol facts, the metric, baselines against hand computation, the DCT-MLP
pieces, and `nermo-ros evaluate` end to end on a tiny slice of real mocap."""

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from nermo_ros.evaluation import benchmark, protocol
from nermo_ros.dct_mlp import dct_matrix
from nermo_ros.history import fill_missing
from nermo_ros.evaluation.metrics import mpjpe_per_frame
from nermo_ros.predictors.baselines import ConstantVelocityPredictor, ZeroVelocityPredictor

CMU_DIR = Path(os.environ.get("NERMO_CMU_DIR",
                              Path(__file__).resolve().parents[1].parent / "shared/data/cmu_mocap"))


def test_protocol_scores_80_to_1000_ms_as_future_frames_2_to_25_at_25_hz():
    assert protocol.EVAL_FRAME_INDEX == (1, 3, 7, 9, 13, 24)
    assert protocol.FRAME_PERIOD_S == pytest.approx(0.04)


def test_protocol_keeps_25_of_the_38_cmu_joints_without_the_root():
    assert protocol.NUM_PROTOCOL_JOINTS == 25
    assert 0 not in protocol.PROTOCOL_JOINTS and len(set(protocol.PROTOCOL_JOINTS)) == 25


def test_protocol_samples_are_10_plus_25_frames_from_the_seeded_starts():
    sequence = np.arange(300, dtype=float)[:, None, None] * np.ones((1, 2, 3))
    windows = protocol.sample_windows(sequence)
    starts = protocol.sample_starts(300)
    assert windows.shape == (8, 35, 2, 3)
    assert np.all((0 <= starts) & (starts < 300 - 75))
    assert np.array_equal(windows[:, 0, 0, 0], starts + 40)  # last 10 of the 50 source frames


def test_a_trial_too_short_for_the_protocol_is_refused_with_its_length():
    with pytest.raises(ValueError, match="got 60"):
        protocol.sample_starts(60)


def test_mpjpe_is_the_mean_euclidean_joint_distance():
    target = np.zeros((2, 3, 4, 3))
    pred = target.copy()
    pred[..., 0], pred[..., 1] = 3.0, 4.0  # every joint 5 away
    pred[1, :, 0] = 0.0  # one joint of one sample exact: mean over 8 joints = 35 / 8
    assert np.allclose(mpjpe_per_frame(pred, target), 35.0 / 8.0)


def _straight_line_samples(speed_mps=1.5):
    """Every joint moves along x at ``speed_mps``: zero velocity errs by speed * horizon,
    constant velocity not at all."""
    t = np.arange(35) * protocol.FRAME_PERIOD_S
    pos = np.zeros((4, 35, 3, 3))
    pos[..., 0] = speed_mps * t[None, :, None]
    pos[..., 1] = np.arange(3)[None, None, :]
    return benchmark.Samples(pos, ["a", "a", "b", "b"])


def test_public_code_average_counts_copied_joints_again_over_all_38():
    pred = np.zeros((2, 3, protocol.NUM_PROTOCOL_JOINTS, 3))
    target = pred.copy()
    target[..., 0] = 1.0  # every used joint 1 unit off
    np.testing.assert_allclose(protocol.public_code_mpjpe_per_frame(pred, target), 32 / 38)
    target[:] = 0.0
    target[:, :, protocol.PROTOCOL_JOINTS.index(15), 2] = 2.0  # joint 15 stands for 16, 20, 29 too
    np.testing.assert_allclose(protocol.public_code_mpjpe_per_frame(pred, target), 4 * 2.0 / 38)


def test_mirror_maps_swap_sides_and_undo_themselves():
    for layout in ("cmu_protocol25", "nermo_body17"):
        perm, axis = protocol.mirror_map(layout)
        assert sorted(perm) == list(range(len(perm))) and perm != tuple(range(len(perm)))
        assert all(perm[perm[j]] == j for j in range(len(perm)))
    perm, _ = protocol.mirror_map("nermo_body17")
    from nermo_ros.skeleton import JOINT_INDEX
    assert perm[JOINT_INDEX["left_wrist"]] == JOINT_INDEX["right_wrist"]
    assert perm[JOINT_INDEX["head"]] == JOINT_INDEX["head"]
    perm, _ = protocol.mirror_map("cmu_protocol25")
    assert perm[protocol.PROTOCOL_JOINTS.index(26)] == protocol.PROTOCOL_JOINTS.index(35)


def test_baselines_give_the_hand_computed_errors_on_straight_line_motion():
    samples = _straight_line_samples(1.5)
    methods = {"zero_velocity": benchmark.velocity_method(ZeroVelocityPredictor()),
               "constant_velocity": benchmark.velocity_method(ConstantVelocityPredictor())}
    result = benchmark.evaluate(samples, methods, benchmark.SETTINGS[:1])["complete"]
    expected_zero_mm = [1.5 * ms for ms in protocol.EVAL_HORIZONS_MS]  # 1.5 m/s * t ms = mm
    assert np.allclose(result["zero_velocity"]["average"], expected_zero_mm, atol=1e-3)
    assert np.allclose(result["constant_velocity"]["average"], 0.0, atol=1e-3)


def test_missing_data_masks_are_fixed_and_hide_the_stated_share():
    s = benchmark.SETTINGS
    m20 = benchmark.observation_mask(400, 25, s[1])
    assert np.array_equal(m20, benchmark.observation_mask(400, 25, s[1]))
    assert abs(1 - m20.mean() - 0.2) < 0.01
    frames = benchmark.observation_mask(50, 25, s[3])
    assert np.all(frames[:, -1]) and np.all((~frames.any(axis=2)).sum(axis=1) == 3)


def test_dct_matrix_is_orthonormal():
    d = dct_matrix(10)
    assert torch.allclose(d @ d.T, torch.eye(10), atol=1e-5)


def test_fill_missing_repeats_the_previous_sighting_and_backfills_the_start():
    x = torch.arange(4.0).reshape(1, 4, 1, 1).expand(1, 4, 1, 3)
    mask = torch.tensor([[[0.0], [1.0], [0.0], [1.0]]])
    assert fill_missing(x, mask)[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0, 3.0]


def test_fill_missing_matches_a_slot_by_slot_scan_and_ignores_hidden_nan():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 10, 5, 3, generator=gen)
    mask = (torch.rand(4, 10, 5, generator=gen) < 0.4).float()
    mask[0, :, 0] = 0.0  # a joint never seen stays at 0
    hidden = torch.where(mask.unsqueeze(-1) > 0.5, x, torch.full_like(x, float("nan")))
    expected = torch.zeros_like(x)
    for b in range(4):
        for j in range(5):
            seen = [t for t in range(10) if mask[b, t, j] > 0.5]
            for t in range(10):
                before = [s for s in seen if s <= t]
                if before or seen:
                    expected[b, t, j] = x[b, before[-1] if before else seen[0], j]
    assert torch.equal(fill_missing(hidden, mask), expected)


def _tiny_slice(dest: Path, lines: int = 300) -> Path:
    """The first ``lines`` frames of one trial per action (a temporary copy, never committed)."""
    for action in ("basketball", "walking"):
        src = CMU_DIR / "train" / action / f"{action}_1.txt.gz"
        (dest / action).mkdir(parents=True)
        with gzip.open(src, "rt") as f:
            head = [next(f) for _ in range(lines)]
        (dest / action / f"{action}_1.txt").write_text("".join(head))
    return dest


@pytest.mark.shared_data
@pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")
def test_evaluate_command_runs_end_to_end_on_a_tiny_real_slice(tmp_path):
    from nermo_ros.cli import main

    data = _tiny_slice(tmp_path / "data")
    out = tmp_path / "out"
    rc = main(["evaluate", "--data", str(data), "--skeleton", str(CMU_DIR / "skeleton.json"),
               "--settings", "complete", "missing_joints_40", "--steps", "1", "--out", str(out)])
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    assert (out / "mpjpe.png").stat().st_size > 0
    for layout in ("cmu_protocol25", "nermo_body17"):
        assert results[layout]["samples"] == 16
        table = results[layout]["settings"]["complete"]
        assert {"zero_velocity", "constant_velocity"} <= set(table)
        for rows in table.values():
            assert set(rows) == {"basketball", "walking", "average"}
            assert all(np.isfinite(rows["average"])) and len(rows["average"]) == 6
        # errors grow with the horizon for a forecaster that does not move
        zero = table["zero_velocity"]["average"]
        assert zero == sorted(zero)
    # the 38-joint figure of the public code: 7 copied joints count again, 6 add zero error
    public = results["cmu_protocol25"]["public_code_average"]["complete"]
    assert set(public) == set(results["cmu_protocol25"]["settings"]["complete"])
    ours = results["cmu_protocol25"]["settings"]["complete"]["zero_velocity"]["average"]
    assert all(0.6 * a < b < a for a, b in zip(ours, public["zero_velocity"]["average"]))
