"""The benchmark: protocol facts, both samplings, the metric, baselines against hand
computation, the DCT-MLP pieces, and `nermo-ros evaluate` end to end on a tiny slice of real
mocap."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nermo_ros.evaluation import benchmark, methods, protocol
from nermo_ros.dct_mlp import dct_matrix
from nermo_ros.history import fill_missing
from nermo_ros.evaluation.metrics import mpjpe_per_frame
from nermo_ros.predictors.baselines import ConstantVelocityPredictor, ZeroVelocityPredictor
from cmu_slices import CMU_DIR, tiny_slice



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


def test_protocol8_keeps_the_seeded_starts_of_the_public_code():
    # RandomState(1234567890).randint(0, 300 - 75) eight times, plus the 40 dropped frames
    expected = [170, 142, 87, 180, 91, 73, 211, 145]
    assert protocol.window_starts(300, "protocol8").tolist() == expected
    assert np.array_equal(protocol.window_starts(300), protocol.window_starts(300, "protocol8"))


def test_every_window_sampling_gives_n_minus_34_windows_with_stride_1():
    sequence = np.arange(100, dtype=float)[:, None, None] * np.ones((1, 2, 3))
    windows = protocol.sample_windows(sequence, "all")
    assert windows.shape == (66, 35, 2, 3)
    assert windows[:, 0, 0, 0].tolist() == list(range(66))  # one window per start frame
    assert windows[-1, -1, 0, 0] == 99  # the last window ends on the last frame


def test_every_window_sampling_takes_a_trial_of_exactly_35_frames_and_refuses_a_shorter_one():
    assert protocol.window_starts(35, "all").tolist() == [0]
    with pytest.raises(ValueError, match="got 34"):
        protocol.window_starts(34, "all")


def test_an_unknown_sampling_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'every'.*protocol8"):
        protocol.window_starts(300, "every")


def test_samples_cut_from_trials_keep_each_windows_action_and_frames():
    sequences = {Path("a_1"): np.arange(40.0)[:, None, None] * np.ones((1, 1, 3)),
                 Path("b_1"): 100 + np.arange(36.0)[:, None, None] * np.ones((1, 1, 3))}
    samples = benchmark.cut_samples({"a": [Path("a_1")], "b": [Path("b_1")]}, sequences, "all")
    assert samples.actions == ["a"] * 6 + ["b"] * 2
    assert samples.trials == ["a_1"] * 6 + ["b_1"] * 2
    windows = samples.windows_m()
    assert windows.shape == (8, 35, 1, 3)
    assert windows[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 4, 5, 100, 101]  # never across trials


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
    return benchmark.Samples.from_windows(pos, ["a", "a", "b", "b"])


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
    chosen = {"zero_velocity": methods.velocity_method(ZeroVelocityPredictor()),
              "constant_velocity": methods.velocity_method(ConstantVelocityPredictor())}
    result = benchmark.evaluate(samples, chosen, benchmark.SETTINGS[:1])["complete"]
    expected_zero_mm = [1.5 * ms for ms in protocol.EVAL_HORIZONS_MS]  # 1.5 m/s * t ms = mm
    assert np.allclose(result["zero_velocity"]["average"], expected_zero_mm, atol=1e-3)
    assert np.allclose(result["constant_velocity"]["average"], 0.0, atol=1e-3)


def test_scoring_in_chunks_gives_the_same_table_as_scoring_at_once():
    samples = _straight_line_samples(1.5)
    chosen = {"zero_velocity": methods.velocity_method(ZeroVelocityPredictor())}
    metrics = benchmark.layout_metrics("nermo_body17")
    whole = benchmark.sample_errors(samples, chosen, metrics, benchmark.SETTINGS[1:2], chunk=4)
    pieces = benchmark.sample_errors(samples, chosen, metrics, benchmark.SETTINGS[1:2], chunk=3)
    assert benchmark.tables(whole) == benchmark.tables(pieces)


def test_per_action_rows_are_sample_means_and_the_average_is_the_mean_over_actions():
    errors = benchmark.Errors(["a", "a", "a", "b"], {"mpjpe_mm": {"complete": {"m": np.array(
        [[1.0] * 6, [2.0] * 6, [6.0] * 6, [10.0] * 6])}}})
    rows = benchmark.tables(errors)["mpjpe_mm"]["complete"]["m"]
    assert rows["a"] == [3.0] * 6 and rows["b"] == [10.0] * 6
    assert rows["average"] == [6.5] * 6  # actions weigh alike, not samples


def test_per_trial_rows_are_each_trials_sample_means_in_action_then_number_order():
    err = np.array([[1.0] * 6, [3.0] * 6, [10.0] * 6, [20.0] * 6, [5.0] * 6])
    errors = benchmark.Errors(["w", "w", "w", "b", "w"], {"mpjpe_mm": {"complete": {"m": err}}},
                              ["w_10", "w_10", "w_2", "b_1", "w_2"])
    per_trial = benchmark.trial_tables(errors)
    assert list(per_trial["samples"]) == ["b_1", "w_2", "w_10"]  # by number, not as text
    assert per_trial["samples"] == {"b_1": 1, "w_2": 2, "w_10": 2}
    assert per_trial["actions"] == {"b_1": "b", "w_2": "w", "w_10": "w"}
    rows = per_trial["mpjpe_mm"]["complete"]["m"]
    assert rows == {"b_1": [20.0] * 6, "w_2": [7.5] * 6, "w_10": [2.0] * 6}
    # the action's row is its windows' mean, so its trials' rows weighted by their windows
    action_row = benchmark.tables(errors)["mpjpe_mm"]["complete"]["m"]["w"]
    assert action_row == [(2 * 7.5 + 2 * 2.0) / 4] * 6
    assert "per_trial" in benchmark.summary(errors)
    unnamed = benchmark.Errors(["w"], {"mpjpe_mm": {"complete": {"m": err[:1]}}})
    assert benchmark.trial_tables(unnamed) == {} and "per_trial" not in benchmark.summary(unnamed)
    pooled = benchmark.pool([errors, unnamed])  # a part without names: no per-trial rows
    assert pooled.trials is None and len(pooled.actions) == 6


def test_per_trial_ratios_use_the_pgbig_figure_of_each_trials_action():
    from nermo_ros.evaluation import published
    from nermo_ros.evaluation.report import pgbig_ratio_table

    theirs = published.released_pgbig("walking")
    text = pgbig_ratio_table({"walking_3": [1.2 * v for v in theirs],
                              "walking_4": list(theirs)},
                             action_of={"walking_3": "walking", "walking_4": "walking"}.get,
                             row_label="trial")
    assert "| trial (ours / PGBIG released) |" in text
    assert "| walking_3 | " + " | ".join(["**1.20**"] * 6) + " |" in text
    assert "| walking_4 | " + " | ".join(["1.00"] * 6) + " |" in text


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


@pytest.mark.shared_data
@pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")
def test_evaluate_command_runs_end_to_end_on_a_tiny_real_slice(tmp_path, capsys):
    from nermo_ros.cli import main

    data = tiny_slice(tmp_path / "data")
    out = tmp_path / "out"
    rc = main(["evaluate", "--data", str(data), "--skeleton", str(CMU_DIR / "skeleton.json"),
               "--settings", "complete", "missing_joints_40", "--steps", "1",
               "--sampling", "protocol8", "all", "--mirror-average", "--hold", "--per-trial",
               "--out", str(out)])
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    assert (out / "mpjpe.png").stat().st_size > 0
    assert results["published"]["averages_mm"]["PGBIG, paper"][0] == 7.6
    for layout in ("cmu_protocol25", "nermo_body17"):
        assert results[layout]["protocol8"]["samples"] == 16
        assert results[layout]["all"]["samples"] == 2 * (150 - 34)  # 300 lines at 25 Hz
        table = results[layout]["protocol8"]["mpjpe_mm"]["complete"]
        assert {"zero_velocity", "constant_velocity"} <= set(table)
        assert {"nermo_1step", "nermo_1step_mirror"} <= set(table)  # plain and mirror-averaged
        # the node's hold of a jittery newest report leaves clean mocap (nearly) alone
        held, plain = table["nermo_1step_hold"]["average"], table["nermo_1step"]["average"]
        assert np.allclose(held, plain, rtol=0.02) and "nermo_1step_mirror_hold" in table
        for rows in table.values():
            assert set(rows) == {"basketball", "walking", "average"}
            assert all(np.isfinite(rows["average"])) and len(rows["average"]) == 6
        # errors grow with the horizon for a forecaster that does not move
        zero = table["zero_velocity"]["average"]
        assert zero == sorted(zero)
    assert "public38_mm" not in results["nermo_body17"]["all"]
    # the 38-joint figure of the public code: 7 copied joints count again, 6 add zero error
    for sampling in ("protocol8", "all"):
        by_layout = results["cmu_protocol25"][sampling]
        public = by_layout["public38_mm"]["complete"]
        assert set(public) == set(by_layout["mpjpe_mm"]["complete"])
        ours = by_layout["mpjpe_mm"]["complete"]["zero_velocity"]["walking"]
        assert all(0.6 * a < b < a for a, b in zip(ours, public["zero_velocity"]["walking"]))
    printed = capsys.readouterr().out
    assert "every window, stride 1" in printed
    assert "| nermo_1step_mirror |" in printed
    # two actions: PGBIG's figures over the same two, not the whole benchmark's averages
    assert "PGBIG, released checkpoint, its per-action figures averaged over our 2" in printed
    assert "PGBIG, paper" not in printed
    # another folder's trials (the public test split, say) are named as what they are
    assert f"(ours, the trials under {data})" in printed and "(ours, our trials)" not in printed
    assert f"worse; theirs on the public test split, ours on the trials under {data})" in printed
    # --per-trial: the headline method's rows of each trial, which here is its action's row
    by_trial = results["cmu_protocol25"]["all"]["per_trial"]
    assert by_trial["samples"] == {"basketball_1": 116, "walking_1": 116}
    public = results["cmu_protocol25"]["all"]["public38_mm"]["complete"]
    assert by_trial["public38_mm"]["complete"]["nermo_1step"]["walking_1"] == pytest.approx(
        public["nermo_1step"]["walking"])
    assert "nermo_1step_mirror per trial, mean over 38 joints (public code)" in printed
    assert "| walking_1 | 116 | " in printed
    assert "per trial over PGBIG's released figure for its action" in printed


def test_one_checkpoint_file_is_scored_on_its_own_skeleton_and_a_missing_one_refused(
        tmp_path, capsys):
    from nermo_ros.cli import main

    data = tiny_slice(tmp_path / "data")
    common = ["evaluate", "--data", str(data), "--skeleton", str(CMU_DIR / "skeleton.json"),
              "--settings", "complete", "--steps", "1"]
    model = Path(__file__).resolve().parents[1] / "models/dct_mlp_cmu_protocol25.pt"
    assert main(common + ["--models", str(model), "--out", str(tmp_path / "one")]) == 0
    results = json.loads((tmp_path / "one" / "results.json").read_text())
    protocol = results["cmu_protocol25"]["protocol8"]["mpjpe_mm"]["complete"]
    body = results["nermo_body17"]["protocol8"]["mpjpe_mm"]["complete"]
    assert "dct_mlp" in protocol and not any(m.startswith("nermo") for m in protocol)
    assert not any(m.startswith(("nermo", "dct")) for m in body)  # baselines only there
    assert "is a dct_mlp model of cmu_protocol25; nermo is left out" in capsys.readouterr().err
    assert main(common + ["--models", str(tmp_path / "typo"), "--out", str(tmp_path / "x")]) != 0
    assert "no such folder or checkpoint file" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
@pytest.mark.parametrize("verb", ["evaluate", "train"])
def test_a_device_this_machine_lacks_is_refused_at_start_with_a_message(tmp_path, verb):
    from nermo_ros.cli import main

    smoke = Path(__file__).resolve().parents[1] / "config/train_smoke.yaml"
    extra = ["--config", str(smoke), "--out", str(tmp_path / "run")] if verb == "train" else ["--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit, match="sees no CUDA device here"):
        main([verb, "--device", "cuda"] + extra)
    with pytest.raises(SystemExit, match="use cpu, cuda, cuda:N or auto"):
        main([verb, "--device", "gpu"] + extra)
    assert not (tmp_path / "run").exists()


def test_the_headline_is_nermo_with_the_most_steps_mirror_averaged_as_the_node_runs_it():
    from nermo_ros.evaluation.report import headline_method

    names = ["constant_velocity", "nermo_1step", "nermo_1step_mirror", "nermo_3step",
             "nermo_3step_mirror"]
    assert headline_method(names) == "nermo_3step_mirror"
    assert headline_method(names[:4]) == "nermo_3step"
    assert headline_method(["zero_velocity", "constant_velocity"]) == "constant_velocity"
    assert headline_method(names + ["nermo_3step_mirror_blend_nested"]) == (
        "nermo_3step_mirror_blend_nested")


def test_pgbig_on_our_action_mix_averages_its_released_figures_over_our_folders():
    from nermo_ros.evaluation import published

    values, covered = published.released_pgbig_over(["walking", "walking_extra", "my_dance"])
    assert covered == ["walking", "walking_extra"]  # the extra walking trials are walking
    assert values == pytest.approx(published.PGBIG_RELEASED_PER_ACTION_MM["walking"])
    both, _ = published.released_pgbig_over(["jumping", "basketball_signal"])
    jumping = published.PGBIG_RELEASED_PER_ACTION_MM["jumping"]
    signal = published.PGBIG_RELEASED_PER_ACTION_MM["basketball_signal"]
    assert both == pytest.approx([(a + b) / 2 for a, b in zip(jumping, signal)])
    assert published.released_pgbig_over(["my_dance"]) is None


def test_published_averages_are_set_only_beside_an_average_over_every_action():
    from nermo_ros.evaluation import published
    from nermo_ros.evaluation.report import published_table

    ours = [8.0, 15.0, 29.0, 36.0, 49.0, 73.0]
    every = [a for a in published.PGBIG_RELEASED_PER_ACTION_MM if a != "washwindow"]
    full = published_table(ours, "ours", actions=every + ["walking_extra"])
    few = published_table(ours, "ours", actions=["walking", "directing_traffic"])
    for name in published.AVERAGES_MM:
        assert name in full and name not in few
    assert "averaged over our 2 action folders" in few
    assert "averaged over our 8 action folders" in full


def _tiny_cv_folder(dest: Path) -> Path:
    """Two trials of two actions (300 lines each) and skeleton.json: 2 folds of 2 trials."""
    for action in ("basketball", "walking"):
        (dest / action).mkdir(parents=True)
        for n in (1, 2):
            with gzip.open(CMU_DIR / "train" / action / f"{action}_{n}.txt.gz", "rt") as f:
                head = [next(f) for _ in range(300)]
            (dest / action / f"{action}_{n}.txt").write_text("".join(head))
    (dest / "skeleton.json").write_text((CMU_DIR / "skeleton.json").read_text())
    return dest


@pytest.mark.shared_data
@pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")
def test_cross_validation_scores_each_folds_model_on_its_trials_and_refuses_a_leaky_one(tmp_path):
    import dataclasses

    from nermo_ros.cli import main
    from nermo_ros.training.config import DataConfig, load_config
    from nermo_ros.training.loop import train
    from nermo_ros.training.validation import validate

    data = _tiny_cv_folder(tmp_path / "data")
    smoke = load_config(Path(__file__).resolve().parents[1] / "config/train_smoke.yaml")
    for k in (0, 1):
        cfg = dataclasses.replace(smoke, data_dir=str(data), data=DataConfig("fold", k, 2),
                                  optim=dataclasses.replace(smoke.optim, steps=1, batch_size=2))
        train(cfg, tmp_path / f"fold{k}", validate_fn=validate)
    common = ["evaluate", "--data", str(data), "--layout", "nermo_body17", "--steps", "1",
              "--settings", "complete", "--folds", "2"]
    rc = main(common + ["--cv-models", str(tmp_path / "fold{k}" / "final.pt"),
                        "--out", str(tmp_path / "cv")])
    assert rc == 0
    cv = json.loads((tmp_path / "cv" / "results.json").read_text())["nermo_body17"]
    assert cv["cross_validation"]["contaminated"] is False
    assert cv["protocol8"]["samples"] == 32  # 4 trials x 8, each scored once
    assert sorted(n for f in cv["protocol8"]["per_fold"] for n in f["validation"]) == [
        "basketball_1.txt", "basketball_2.txt", "walking_1.txt", "walking_2.txt"]
    assert "nermo_1step" in cv["protocol8"]["mpjpe_mm"]["complete"]
    assert cv["protocol8"]["per_trial"]["samples"] == {  # pooled over the folds, by trial
        "basketball_1": 8, "basketball_2": 8, "walking_1": 8, "walking_2": 8}
    # the constant-velocity blend, each fold's chosen on the other fold
    assert main(common + ["--cv-models", str(tmp_path / "fold{k}" / "final.pt"),
                          "--velocity-blend-grid", "--out", str(tmp_path / "blend")]) == 0
    blend = json.loads((tmp_path / "blend" / "results.json").read_text())["nermo_body17"]
    rows = blend["protocol8"]["mpjpe_mm"]["complete"]
    assert {"nermo_1step", "nermo_1step_blend_nested"} <= set(rows)
    assert not [n for n in rows if "_blend0" in n]  # the grid rows stay out of the tables
    assert [c["fold"] for c in blend["protocol8"]["nested"]["per_fold"]] == [0, 1]
    assert rows["nermo_1step"] == cv["protocol8"]["mpjpe_mm"]["complete"]["nermo_1step"]
    trial_rows = blend["protocol8"]["per_trial"]["mpjpe_mm"]["complete"]
    assert set(trial_rows["nermo_1step_blend_nested"]) == set(cv["protocol8"]["per_trial"]["samples"])
    assert main(common + ["--velocity-blend-grid", "--out", str(tmp_path / "no")]) == 2
    # only the held-out split (the lowest-numbered trial of each action), by its own fold
    assert main(common + ["--cv-models", str(tmp_path / "fold{k}" / "final.pt"),
                          "--cv-heldout-only", "--out", str(tmp_path / "held")]) == 0
    held = json.loads((tmp_path / "held" / "results.json").read_text())["nermo_body17"]
    assert held["protocol8"]["samples"] == 16
    assert sorted(n for f in held["protocol8"]["per_fold"] for n in f["validation"]) == [
        "basketball_1.txt", "walking_1.txt"]
    by_trial = {n: f for f in cv["protocol8"]["per_fold"] for n in f["validation"]}
    for f in held["protocol8"]["per_fold"]:  # each held-out trial scored by the fold it is in
        assert all(by_trial[n]["fold"] == f["fold"] for n in f["validation"])
    # one action: the folds stay the training's (dealt over every trial), only its trials scored
    assert main(common + ["--cv-models", str(tmp_path / "fold{k}" / "final.pt"),
                          "--actions", "walking", "--out", str(tmp_path / "walk")]) == 0
    walk = json.loads((tmp_path / "walk" / "results.json").read_text())["nermo_body17"]
    assert walk["protocol8"]["samples"] == 16
    assert walk["cross_validation"]["scored"] == "actions walking"
    for f in walk["protocol8"]["per_fold"]:
        assert all(n.startswith("walking_") and by_trial[n]["fold"] == f["fold"]
                   for n in f["validation"])
    assert walk["protocol8"]["mpjpe_mm"]["complete"]["nermo_1step"]["walking"] == pytest.approx(
        cv["protocol8"]["mpjpe_mm"]["complete"]["nermo_1step"]["walking"])
    assert main(common + ["--cv-models", str(tmp_path / "fold{k}" / "final.pt"), "--actions",
                          "walking", "--cv-heldout-only", "--out", str(tmp_path / "walk1")]) == 0
    walk1 = json.loads((tmp_path / "walk1" / "results.json").read_text())["nermo_body17"]
    assert [n for f in walk1["protocol8"]["per_fold"] for n in f["validation"]] == ["walking_1.txt"]
    # the shipped model trained on the held-out split: refused, or scored and marked
    shipped = str(Path(__file__).resolve().parents[1] / "models/nermo_body17.pt")
    assert main(common + ["--cv-models", shipped, "--out", str(tmp_path / "leak")]) == 2
    assert main(common + ["--cv-models", shipped, "--cv-allow-leak",
                          "--out", str(tmp_path / "leak")]) == 0
    leak = json.loads((tmp_path / "leak" / "results.json").read_text())["nermo_body17"]
    assert leak["cross_validation"]["contaminated"] is True
