"""CMU exponential-map loader: known-answer kinematics, no mirroring, the held-out split."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from nermo_ros.data import cmu
from nermo_ros.skeleton import BONES, JOINT_INDEX, NUM_CMU_JOINTS

CHAIN = cmu.CmuSkeleton(parents=np.arange(-1, NUM_CMU_JOINTS - 1),
                        offsets=np.vstack([[0.0, 0.0, 0.0],
                                           np.tile([0.0, 1.0, 0.0], (NUM_CMU_JOINTS - 1, 1))]),
                        offset_scale=10.0)


def real_data_dir():
    data_dir = cmu.default_data_dir()
    if not (data_dir / "skeleton.json").is_file():
        pytest.skip(f"CMU mocap data not found at {data_dir} (set {cmu.ENV_VAR})")
    return data_dir


def write_trial(path, frames):
    text = "\n".join(",".join(f"{v:.6g}" for v in row) for row in frames) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)


def test_zero_rotations_stack_the_scaled_offsets_along_the_chain():
    pos = cmu.expmap_to_positions_mm(np.zeros((2, cmu.NUM_COLUMNS)), CHAIN)
    expected_y = 10.0 * np.arange(NUM_CMU_JOINTS)
    np.testing.assert_allclose(pos[:, :, 1], np.broadcast_to(expected_y, (2, NUM_CMU_JOINTS)))
    np.testing.assert_allclose(pos[:, :, [0, 2]], 0.0)


def test_a_quarter_turn_about_z_swings_the_child_bones_onto_x_in_row_vector_convention():
    frame = np.zeros((1, cmu.NUM_COLUMNS))
    frame[0, 3 + 3 * 1: 3 + 3 * 2] = [0.0, 0.0, np.pi / 2]  # joint 1 rotates
    pos = cmu.expmap_to_positions_mm(frame, CHAIN)[0]
    # joint 1 stays where its own offset put it; everything below it now extends along +x
    np.testing.assert_allclose(pos[1], [0.0, 10.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(pos[5], [40.0, 10.0, 0.0], atol=1e-9)


def test_root_position_and_rotation_apply_only_with_global_motion():
    frame = np.zeros((1, cmu.NUM_COLUMNS))
    frame[0, :3] = [1.0, 2.0, 3.0]
    frame[0, 3:6] = [0.0, 0.0, np.pi / 2]  # root joint rotation
    local = cmu.expmap_to_positions_mm(frame, CHAIN)[0]
    moved = cmu.expmap_to_positions_mm(frame, CHAIN, global_motion=True)[0]
    np.testing.assert_allclose(local[2], [0.0, 20.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(moved[0], [10.0, 20.0, 30.0], atol=1e-9)
    np.testing.assert_allclose(moved[2], [10.0 + 20.0, 20.0, 30.0], atol=1e-9)
    np.testing.assert_allclose(moved[2] - moved[1], [10.0, 0.0, 0.0], atol=1e-9)


def test_axis_change_is_a_rotation_that_keeps_left_on_the_left():
    axes = cmu.CMU_TO_BODY_AXES
    assert np.linalg.det(axes) == pytest.approx(1.0)
    np.testing.assert_allclose(axes @ axes.T, np.eye(3))
    left, up, forward = axes @ [1, 0, 0], axes @ [0, 1, 0], axes @ [0, 0, 1]
    np.testing.assert_allclose(left, [0, 1, 0])  # CMU +x (person's left) -> REP-103 +y
    np.testing.assert_allclose(up, [0, 0, 1])
    np.testing.assert_allclose(forward, [1, 0, 0])


def test_expmap_reader_reads_plain_and_gzip_files_alike(tmp_path):
    frames = np.random.default_rng(0).normal(size=(5, cmu.NUM_COLUMNS))
    write_trial(tmp_path / "a_1.txt", frames)
    write_trial(tmp_path / "a_1.txt.gz", frames)
    np.testing.assert_allclose(cmu.read_expmap_file(tmp_path / "a_1.txt"), frames, rtol=1e-5)
    np.testing.assert_allclose(cmu.read_expmap_file(tmp_path / "a_1.txt.gz"), frames, rtol=1e-5)


def test_a_short_line_is_reported_with_its_line_number(tmp_path):
    path = tmp_path / "bad_1.txt"
    path.write_text(",".join(["0"] * cmu.NUM_COLUMNS) + "\n1,2,3\n")
    with pytest.raises(ValueError, match="line 2 has 3 numbers"):
        cmu.read_expmap_file(path)


def test_skeleton_json_is_found_in_the_folder_or_its_parent_else_named_in_the_error(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "skeleton.json").write_text("{}")
    assert cmu.find_skeleton_json(tmp_path) == tmp_path / "skeleton.json"
    assert cmu.find_skeleton_json(tmp_path / "train") == tmp_path / "skeleton.json"
    with pytest.raises(FileNotFoundError, match=cmu.ENV_VAR):
        cmu.find_skeleton_json(tmp_path / "train" / "nothing")


def test_a_skeleton_whose_parent_follows_its_child_is_refused(tmp_path):
    parents = list(range(-1, NUM_CMU_JOINTS - 1))
    parents[3] = 10
    path = tmp_path / "skeleton.json"
    path.write_text(json.dumps({"parents": parents, "offsets": [[0, 0, 0]] * NUM_CMU_JOINTS}))
    with pytest.raises(ValueError, match="precede"):
        cmu.load_skeleton(path)


def test_trials_sort_by_number_and_the_lowest_of_each_action_is_held_out(tmp_path):
    frames = np.zeros((3, cmu.NUM_COLUMNS))
    for name in ("walking_10.txt.gz", "walking_2.txt.gz", "walking_1.txt", "walking_1.txt.gz",
                 "jumping_3.txt.gz", "jumping_4.txt.gz", "solo_7.txt.gz"):
        action = name.rsplit("_", 1)[0]
        (tmp_path / "train" / action).mkdir(parents=True, exist_ok=True)
        write_trial(tmp_path / "train" / action / name, frames)
    trials = cmu.list_trials(tmp_path)
    assert [p.name for p in trials["walking"]] == ["walking_1.txt", "walking_2.txt.gz",
                                                   "walking_10.txt.gz"]
    train, validation = cmu.heldout_split(trials)
    assert {a: [p.name for p in v] for a, v in validation.items()} == {
        "walking": ["walking_1.txt"], "jumping": ["jumping_3.txt.gz"]}
    assert [p.name for p in train["solo"]] == ["solo_7.txt.gz"]
    for action, held in validation.items():
        assert not set(held) & set(train[action])


@pytest.mark.shared_data
def test_real_walking_trial_is_upright_left_handed_correctly_and_rigid():
    data_dir = real_data_dir()
    skeleton = cmu.load_skeleton(cmu.find_skeleton_json(data_dir))
    clip = cmu.load_trial(data_dir / "train" / "walking" / "walking_1.txt.gz", skeleton)
    p, j = clip.positions_m, JOINT_INDEX
    assert np.allclose(np.diff(clip.times_s), 1.0 / cmu.PROTOCOL_FRAME_RATE_HZ)
    assert np.all(p[:, j["head"], 2] > p[:, j["pelvis"], 2])
    assert np.all(p[:, j["pelvis"], 2] > p[:, j["left_ankle"], 2])
    assert np.all(p[:, j["pelvis"], 2] > p[:, j["right_ankle"], 2])
    # forward x left must point up (REP-103 is right-handed): fails if the body were mirrored
    forward = (p[:, j["left_toe"]] - p[:, j["left_ankle"]]
               + p[:, j["right_toe"]] - p[:, j["right_ankle"]])
    left = p[:, j["left_hip"]] - p[:, j["right_hip"]]
    up = p[:, j["neck"]] - p[:, j["pelvis"]]
    assert np.all(np.einsum("ti,ti->t", np.cross(forward, left), up) > 0)
    for parent, child in BONES:
        if parent in (j["pelvis"], j["neck"]):
            continue  # pelvis, neck and head are means of rig joints: not rigid bones
        length = np.linalg.norm(p[:, child] - p[:, parent], axis=-1)
        assert length.std() < 1e-6 + 1e-3 * length.mean()


@pytest.mark.shared_data
def test_global_motion_walks_forward_with_the_stance_foot_planted():
    data_dir = real_data_dir()
    skeleton = cmu.load_skeleton(cmu.find_skeleton_json(data_dir))
    path = data_dir / "train" / "walking" / "walking_1.txt.gz"
    clip = cmu.load_trial(path, skeleton, global_motion=True, downsample=1)
    pelvis_xy = clip.positions_m[:, JOINT_INDEX["pelvis"], :2]
    speed_m_s = np.linalg.norm(pelvis_xy[-1] - pelvis_xy[0]) / clip.duration_s
    assert 0.3 < speed_m_s < 2.0
    toe = clip.positions_m[:, JOINT_INDEX["left_toe"], :2]
    toe_speed = np.linalg.norm(np.diff(toe, axis=0), axis=1) / np.diff(clip.times_s)
    # a foot on the ground does not slide: root translation and offsets share one unit
    assert np.percentile(toe_speed, 10) < 0.1 * speed_m_s
