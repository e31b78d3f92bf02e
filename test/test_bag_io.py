"""Skeleton bags on disk: real clips round-trip in MCAP and SQLite 3, other tools' messages read
as skeletons, and damaged or gappy bags give a report instead of a crash (cut and changed MCAP
files in detail: test_bag_salvage.py)."""

from __future__ import annotations

import numpy as np
import pytest

from nermo_ros.bag import convert, io
from nermo_ros.bag import types as T
from nermo_ros.bag.checks import check_stream
from nermo_ros.bag.messages import header
from nermo_ros.data.pybullet_clips import load_clip
from nermo_ros.skeleton import JOINT_INDEX, MEDIAPIPE_SOURCES, NUM_JOINTS


@pytest.fixture(scope="module")
def walk():
    return load_clip("humanoid3d_walk.txt", cycles=2)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_a_real_clip_round_trips_through_a_bag_with_its_stamps_and_positions(tmp_path, walk,
                                                                              storage):
    frames = convert.clip_frames(walk, start_ns=1_000_000_000_123)
    count = convert.write_skeleton_bag(tmp_path / "walk", frames, "/people", storage)
    back, report = io.read_skeleton_frames(tmp_path / "walk")
    assert count == len(back) == walk.num_frames
    assert report.lines() == [f"{tmp_path / 'walk'}: read {count} messages"]
    assert io.bag_topics(tmp_path / "walk") == {"/people": T.SKELETON_ARRAY}
    stamps = np.array([f.stamp_ns for f in back])
    np.testing.assert_array_equal(stamps, 1_000_000_000_123 + np.round(walk.times_s * 1e9))
    np.testing.assert_array_equal([f.log_ns for f in back], stamps)
    positions = np.stack([f.people[0].positions.reshape(NUM_JOINTS, 3) for f in back])
    np.testing.assert_array_equal(positions, walk.positions_m.astype(np.float32))
    assert {f.people[0].track_id for f in back} == {"body_0"}
    assert (tmp_path / "walk" / "metadata.yaml").read_text().count(f"storage_identifier: "
                                                                    f"{storage}") == 1


def test_writing_over_an_existing_bag_is_refused(tmp_path, walk):
    convert.write_skeleton_bag(tmp_path / "b", convert.clip_frames(walk))
    with pytest.raises(FileExistsError, match="exists"):
        convert.write_skeleton_bag(tmp_path / "b", convert.clip_frames(walk))


def _pose_array(stamp_ns, points):
    pose, point, quat = (T.message_type(n) for n in (
        "geometry_msgs/msg/Pose", "geometry_msgs/msg/Point", "geometry_msgs/msg/Quaternion"))
    return T.message_type(T.POSE_ARRAY)(header=header(stamp_ns, "map"), poses=[
        pose(position=point(x=float(x), y=float(y), z=float(z)),
             orientation=quat(x=0.0, y=0.0, z=0.0, w=1.0)) for x, y, z in points])


def test_a_pose_array_of_two_people_in_canonical_order_reads_as_two_skeletons(tmp_path, walk):
    with io.BagWriter(tmp_path / "poses") as writer:
        for k in range(3):
            a, b = walk.positions_m[k], walk.positions_m[k] + [0.0, 2.0, 0.0]
            writer.write("/people/poses", 5_000 + k, _pose_array(10**9 * (k + 1),
                                                                np.vstack([a, b])))
    frames, _ = io.read_skeleton_frames(tmp_path / "poses")
    assert [f.stamp_ns for f in frames] == [10**9, 2 * 10**9, 3 * 10**9]
    people = frames[2].people
    assert [p.track_id for p in people] == ["people_poses_0", "people_poses_1"]
    np.testing.assert_allclose(people[1].positions.reshape(NUM_JOINTS, 3),
                               walk.positions_m[2] + [0.0, 2.0, 0.0], atol=1e-6)
    assert np.all(people[0].confidence == 1.0)


def _marker(head, ns, marker_id, points):
    """A SPHERE_LIST marker with every field a Marker has (rosbags classes take no defaults)."""
    m = {n: T.message_type(f"{p}/msg/{n.title()}") for n, p in (
        ("pose", "geometry_msgs"), ("point", "geometry_msgs"), ("quaternion", "geometry_msgs"),
        ("vector3", "geometry_msgs"), ("duration", "builtin_interfaces"))}
    color = T.message_type("std_msgs/msg/ColorRGBA")(r=1.0, g=1.0, b=1.0, a=1.0)
    texture = T.message_type("sensor_msgs/msg/CompressedImage")(
        header=head, format="", data=np.zeros(0, np.uint8))
    return T.message_type(T.MARKER)(
        header=head, ns=ns, id=marker_id, type=7, action=0,
        pose=m["pose"](position=m["point"](x=0.0, y=0.0, z=0.0),
                       orientation=m["quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
        scale=m["vector3"](x=0.05, y=0.05, z=0.05), color=color,
        lifetime=m["duration"](sec=0, nanosec=0), frame_locked=False, points=points, colors=[],
        texture_resource="", texture=texture, uv_coordinates=[], text="", mesh_resource="",
        mesh_file=T.message_type("visualization_msgs/msg/MeshFile")(
            filename="", data=np.zeros(0, np.uint8)),
        mesh_use_embedded_materials=False)


def test_a_marker_array_of_mediapipe_landmarks_maps_to_the_canonical_skeleton(tmp_path):
    landmarks = np.zeros((33, 3))
    landmarks[23] = [0.1, 0.2, 0.9]  # MediaPipe left hip
    landmarks[24] = [0.1, -0.2, 0.9]  # MediaPipe right hip
    landmarks[31] = np.nan  # left foot index not seen
    point = T.message_type("geometry_msgs/msg/Point")
    head = header(7 * 10**9, "camera")
    msg = T.message_type(T.MARKER_ARRAY)(markers=[
        _marker(head, "people", 4, [point(x=float(x), y=float(y), z=float(z))
                                    for x, y, z in landmarks]),
        _marker(head, "text", 1, []),  # not a skeleton
    ])
    with io.BagWriter(tmp_path / "markers", "sqlite3") as writer:
        writer.write("/viz", 123, msg)
    (frame,), _ = io.read_skeleton_frames(tmp_path / "markers")
    (person,) = frame.people
    assert (person.track_id, frame.stamp_ns, frame.frame_id) == ("people_4", 7 * 10**9, "camera")
    xyz = person.positions.reshape(NUM_JOINTS, 3)
    np.testing.assert_allclose(xyz[JOINT_INDEX["left_hip"]], [0.1, 0.2, 0.9], atol=1e-6)
    np.testing.assert_allclose(xyz[JOINT_INDEX["pelvis"]], [0.1, 0.0, 0.9], atol=1e-6)
    assert person.confidence[JOINT_INDEX["left_toe"]] == 0.0  # from the NaN landmark
    assert MEDIAPIPE_SOURCES["left_toe"] == (31,)
    assert person.confidence[JOINT_INDEX["left_hip"]] == 1.0


def test_a_bag_without_skeletons_names_its_topics(tmp_path):
    with io.BagWriter(tmp_path / "clock") as writer:
        clock = T.message_type(T.CLOCK)(clock=T.message_type("builtin_interfaces/msg/Time")(
            sec=1, nanosec=0))
        writer.write("/clock", 1, clock)
    with pytest.raises(ValueError, match=r"no skeleton stream .* /clock \[rosgraph_msgs"):
        io.read_skeleton_frames(tmp_path / "clock")


def test_a_corrupt_chunk_is_reported_and_the_readable_frames_are_kept(tmp_path):
    long_walk = load_clip("humanoid3d_walk.txt", cycles=20)
    convert.write_skeleton_bag(tmp_path / "bad", convert.clip_frames(long_walk))
    (data_file,) = (tmp_path / "bad").glob("*.mcap")
    blob = bytearray(data_file.read_bytes())
    middle = len(blob) // 2
    blob[middle:middle + 4096] = b"\xff" * 4096
    data_file.write_bytes(bytes(blob))
    frames, report = io.read_skeleton_frames(tmp_path / "bad")
    assert 0 < len(frames) < long_walk.num_frames
    assert report.undecodable or report.damaged
    assert any("damaged" in line or "did not decode" in line for line in report.lines())


def test_gaps_and_backward_jumps_in_stamps_are_found_where_they_are():
    stamps = (np.array([0, 1, 2, 3, 10, 11, 12, 5, 6, 7]) * 100_000_000).astype(np.int64)
    check = check_stream(stamps)
    assert check.median_step_s == pytest.approx(0.1)
    assert check.gaps == ((pytest.approx(0.3), pytest.approx(0.7)),)
    assert check.backward_jumps == ((pytest.approx(1.2), pytest.approx(0.7)),)
    text = " ".join(check.lines())
    assert "1 gaps (longest 0.700 s" in text and "1 backward time jumps" in text


def test_a_video_through_the_pose_estimator_becomes_a_skeleton_bag_with_video_timing(tmp_path):
    pytest.importorskip("mediapipe")
    from perception_media import VIDEO_RATE_HZ, write_astronaut_video

    from nermo_ros.cli import main as cli_main

    video = write_astronaut_video(tmp_path / "astronaut.avi", num_frames=3)
    assert cli_main(["bag", "convert", str(video), str(tmp_path / "video"), "--start-s",
                     "100"]) == 0
    frames, _ = io.read_skeleton_frames(tmp_path / "video")
    assert [f.stamp_ns for f in frames] == [int(round((100 + k / VIDEO_RATE_HZ) * 1e9))
                                            for k in range(3)]
    assert all(len(f.people) == 1 and f.frame_id == "camera_link" for f in frames)  # the node's
    confidence = frames[0].people[0].confidence
    assert confidence[JOINT_INDEX["left_shoulder"]] > 0.5  # the astronaut's shoulders show


def test_a_video_of_two_people_becomes_a_bag_of_both_under_ids_kept_across_frames(tmp_path):
    """Sports2D's demo from 2 s on: a man on a box and a woman walking past below him. The
    bag holds both, each under the id the perception node gives them, not whoever the pose
    estimator happened to report first."""
    pytest.importorskip("mediapipe")
    from collections import Counter

    from perception_media import packaged_clip

    from nermo_ros.cli import main as cli_main

    video = packaged_clip("several", 0, 90, tmp_path / "two.avi")
    assert cli_main(["bag", "convert", video, str(tmp_path / "two")]) == 0
    all_frames, _ = io.read_skeleton_frames(tmp_path / "two")
    assert len(all_frames) == 90  # every video frame, people or not
    frames = all_frames[60:]  # both in view
    assert sum(len(f.people) == 2 for f in frames) >= 24
    counts = Counter(p.track_id for f in frames for p in f.people)
    (_, n1), (_, n2) = counts.most_common(2)
    assert n1 + n2 >= 0.95 * sum(counts.values()) and min(n1, n2) >= 24
    assert all(len({p.track_id for p in f.people}) == len(f.people) for f in all_frames)
    assert cli_main(["bag", "convert", video, str(tmp_path / "named"), "--track-id", "x"]) != 0
