"""The perception node on real videos of people (from pinned packages, requirements-media.txt):
bodies per frame, ids that persist, confidences. Skips only where a video package is absent."""

import os
import time
from collections import Counter

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from nermo_ros import skeleton  # noqa: E402
from nermo_ros.msg import Skeleton3DArray  # noqa: E402
from nermo_ros.nodes.diagnostics import status_values  # noqa: E402
from nermo_ros.nodes.msg_convert import skeleton_fields  # noqa: E402
from nermo_ros.nodes.perception_node import PerceptionNode  # noqa: E402
from perception_media import packaged_clip as clip  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
DOMAIN_ID = 100 + os.getpid() % 40  # own DDS domains (100-139)
J = skeleton.JOINT_INDEX
UPPER_BODY = [J[n] for n in ("neck", "left_shoulder", "right_shoulder", "left_hip", "right_hip")]


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init(domain_id=DOMAIN_ID)
    yield
    rclpy.try_shutdown()


def run_node(video: str, frames: int) -> tuple[list, dict]:
    """Every frame of ``video`` through the node; -> (arrays published, last diagnostics)."""
    node = PerceptionNode(overrides={"video_path": video, "video_realtime": False,
                                     "diagnostics_period_s": 0.5})
    probe = rclpy.create_node("real_video_probe")
    arrays, diagnostics = [], []
    probe.create_subscription(Skeleton3DArray, "skeletons", arrays.append, 100)
    probe.create_subscription(DiagnosticArray, "/diagnostics", lambda m: diagnostics.extend(
        status_values(s) for s in m.status if s.name.startswith("perception")), 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(probe)
    try:
        deadline = time.monotonic() + 5.0 * frames  # generous: a shared CPU
        while time.monotonic() < deadline and not (
                len(arrays) >= frames and any(d["frames_total"] == str(frames)
                                              for d in diagnostics)):
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        node.destroy_node()
        probe.destroy_node()
    assert len(arrays) == frames, f"{len(arrays)} of {frames} frames published"
    return arrays, next(d for d in diagnostics if d["frames_total"] == str(frames))


def people(array) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for person in array.skeletons:
        positions, confidence = skeleton_fields(person)
        out[person.track_id] = (positions.reshape(skeleton.NUM_JOINTS, 3), confidence)
    return out


def test_one_person_on_real_video_is_one_confident_body_under_one_id(tmp_path):
    arrays, report = run_node(clip("single", 0, 40, tmp_path / "single.avi"), 40)
    frames = [people(a) for a in arrays]
    assert all(list(f) == ["body_0"] for f in frames)  # the person at the back is not reported
    for f in frames:
        positions, confidence = f["body_0"]
        assert (confidence[UPPER_BODY] > 0.5).all()
        assert abs(positions[J["pelvis"]]).max() < 0.05  # no depth: hip-centred
        lowest_ankle_m = min(positions[J["left_ankle"], 2], positions[J["right_ankle"], 2])
        assert 1.0 < positions[J["head"], 2] - lowest_ankle_m < 2.2  # a person's height
    assert report["tracks_started_total"] == "1" and report["identity_jumps_total"] == "0"


def test_two_people_on_real_video_keep_two_ids(tmp_path):
    # The first 5 s of Sports2D's demo: a man stands on a box; from 2 s on a woman walks past
    # below him. The task finds a person as they come into view and follows them from there.
    arrays, report = run_node(clip("several", 0, 150, tmp_path / "several.avi"), 150)
    frames = [people(a) for a in arrays]
    both_in_view = frames[60:]
    counts = Counter(track_id for f in frames for track_id in f)
    main_ids = [track_id for track_id, _ in counts.most_common(2)]
    assert sum(counts[i] for i in main_ids) >= 0.95 * sum(counts.values())
    assert sum(len(f) == 2 for f in both_in_view) >= 0.8 * len(both_in_view)
    for track_id in main_ids:
        seen = [f[track_id] for f in both_in_view if track_id in f]
        assert len(seen) >= 0.8 * len(both_in_view), f"{track_id} in {len(seen)} frames"
        assert np.median([confidence[UPPER_BODY].mean() for _, confidence in seen]) > 0.5
    assert int(report["identity_jumps_total"]) == 0
    assert int(report["tracks_started_total"]) <= 4
