"""The predictor node over real DDS: a real mocap clip in, one forecast array per frame out,
and every kind of bad input rejected and counted (on the node and on /diagnostics)."""

import os
import re
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from nermo_ros.data.pybullet_clips import DEFAULT_CLIP, load_clip  # noqa: E402
from nermo_ros.msg import HumanForecastArray, Skeleton3D, Skeleton3DArray  # noqa: E402
from nermo_ros.nodes.bringup import default_config  # noqa: E402
from nermo_ros.nodes.diagnostics import status_values  # noqa: E402
from nermo_ros.nodes.msg_convert import (float32_field, forecast_arrays, ns_to_stamp,  # noqa: E402
                                         skeleton_array_msg, stamp_to_ns)
from nermo_ros.nodes.predictor_node import PredictorNode  # noqa: E402
from nermo_ros.nodes.predictor_status import ROUTINE  # noqa: E402
from nermo_ros.predictors.baselines import ConstantVelocityPredictor  # noqa: E402
from nermo_ros.skeleton import LAYOUT_ID, NUM_JOINTS  # noqa: E402
from predictor_fixtures import nermo_checkpoint  # noqa: E402
from waiting import detach, wait_for  # noqa: E402

pytestmark = pytest.mark.ros
# This module's own DDS domain per test process, so parallel test runs do not cross-talk.
DOMAIN_ID = 1 + os.getpid() % 10  # domains 1-10 (ports below the ephemeral range)
HORIZONS_S = [0.1, 0.4, 1.0]


class Harness:
    """The predictor node plus a test node that publishes skeletons and records the outputs."""

    def __init__(self):
        self.predictor = PredictorNode(default_config("predictor.yaml"), {
            "predictor": "constant_velocity", "input_reliability": "reliable", "input_queue_depth": 100,
            "horizons_s": HORIZONS_S, "max_stamp_age_s": 30.0, "diagnostics_period_s": 0.2,
            "warn_throttle_s": 0.0})
        self.node = rclpy.create_node("predictor_test_harness")
        self.forecasts: list[HumanForecastArray] = []
        self.diagnostics: list[dict] = []
        self.publisher = self.node.create_publisher(
            Skeleton3DArray, "skeletons", QoSProfile(depth=100,
                                                     reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(HumanForecastArray, "human_forecast",
                                      self.forecasts.append, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.markers: list[MarkerArray] = []
        self.node.create_subscription(MarkerArray, "human_forecast/markers",
                                      self.markers.append, 10)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.predictor)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        wait_for(lambda: self.publisher.get_subscription_count() >= 1
                 and self.predictor.count_subscribers("human_forecast") >= 1)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("predictor"):
                self.diagnostics.append(status_values(status))

    def send(self, msg: Skeleton3DArray) -> None:
        self.publisher.publish(msg)

    def close(self):
        self.executor.shutdown()
        self.predictor.destroy_node()
        self.node.destroy_node()


@pytest.fixture(scope="module")
def harness():
    rclpy.init(domain_id=DOMAIN_ID)
    h = Harness()
    yield h
    h.close()
    rclpy.shutdown()


@pytest.fixture(autouse=True)
def executor_still_spinning(request):
    """A test that kills the shared executor's thread fails itself, rather than the tests after
    it timing out one by one (the thread's exception is in pytest's warnings summary)."""
    yield
    if "harness" in request.fixturenames:
        assert request.getfixturevalue("harness").thread.is_alive(), \
            "the harness's executor thread died during this test"


def header_at(stamp_ns: int) -> Header:
    return Header(stamp=ns_to_stamp(stamp_ns), frame_id="world")


def now_ns(harness) -> int:
    return harness.predictor.get_clock().now().nanoseconds


def frame(stamp_ns: int, people: dict) -> Skeleton3DArray:
    confident = np.ones(NUM_JOINTS, np.float32)
    return skeleton_array_msg(header_at(stamp_ns), {
        track_id: (positions, confident) for track_id, positions in people.items()})


def test_a_real_clip_gets_one_forecast_array_per_frame_with_stamps_shapes_and_ids(harness):
    clip = load_clip(DEFAULT_CLIP, cycles=2)
    start_ns = now_ns(harness) - int(clip.times_s[-1] * 1e9)  # a recorded walk: all in the past
    stamps_ns = [start_ns + int(round(t * 1e9)) for t in clip.times_s]
    harness.forecasts.clear()
    for stamp_ns, pose in zip(stamps_ns, clip.positions_m):
        # Two people: the recorded walker and the same walk 2 m to its left.
        harness.send(frame(stamp_ns, {"body_0": pose, "body_1": pose + [0.0, 2.0, 0.0]}))
        time.sleep(0.002)
    wait_for(lambda: len(harness.forecasts) >= len(stamps_ns))
    time.sleep(0.2)
    assert [stamp_to_ns(m.header.stamp) for m in harness.forecasts] == stamps_ns
    assert harness.forecasts[0].forecasts == []  # one frame is not yet a window (min_frames 2)
    for array in harness.forecasts[1:]:
        assert sorted(f.track_id for f in array.forecasts) == ["body_0", "body_1"]
        for forecast in map(forecast_arrays, array.forecasts):
            assert forecast.stamp_ns == stamp_to_ns(array.header.stamp)
            assert forecast.positions_m.shape == (3, NUM_JOINTS, 3)
            assert forecast.uncertainty_m.shape == (3, NUM_JOINTS)
            np.testing.assert_allclose(forecast.time_offsets_s, HORIZONS_S, rtol=1e-6)
            assert forecast.predictor == "constant_velocity"
    # 0.1 s ahead (3 mocap frames), constant velocity beats standing still for a walker.
    forecast_errors_m, still_errors_m = [], []
    for array in harness.forecasts[5:-4]:
        index = stamps_ns.index(stamp_to_ns(array.header.stamp))
        truth = clip.positions_m[index + 3]
        walker = next(forecast_arrays(f) for f in array.forecasts if f.track_id == "body_0")
        forecast_errors_m.append(np.linalg.norm(walker.positions_m[0] - truth, axis=-1).mean())
        still_errors_m.append(np.linalg.norm(clip.positions_m[index] - truth, axis=-1).mean())
    assert np.mean(forecast_errors_m) < 0.7 * np.mean(still_errors_m)
    # Markers: the observed walker in green, one skeleton per horizon and a sphere of the
    # radius around each joint at the 1 s horizon, for both people.
    expected = 1 + 2 * (1 + len(HORIZONS_S) + NUM_JOINTS)
    wait_for(lambda: any(len(m.markers) == expected for m in harness.markers))
    drawn = next(m for m in harness.markers if len(m.markers) == expected)
    assert drawn.markers[0].action == Marker.DELETEALL
    assert {m.ns for m in drawn.markers[1:]} >= {"observed/body_0", "predicted/body_1/1.00s",
                                                 "radius/body_0/1.00s"}
    bones = [m for m in drawn.markers[1:] if m.type == Marker.LINE_LIST]
    assert len(bones) == 2 * (1 + len(HORIZONS_S))
    assert all(len(m.points) == 32 for m in bones)  # 16 bones, all joints seen
    # /diagnostics: latency, windows and counts as numbers a person can read.
    wait_for(lambda: harness.diagnostics
             and int(harness.diagnostics[-1]["forecast_arrays_out_total"]) >= len(stamps_ns))
    status = harness.diagnostics[-1]
    assert status["windows"] == "2" and float(status["predictor_latency_p99_ms"]) > 0
    assert "view_tilt_deg" in status and status["view_levelled"] == "False"  # a level view


def valid_pose():
    return load_clip(DEFAULT_CLIP).positions_m[0]


def skeleton(track_id, positions=None, confidence=None, layout=LAYOUT_ID, stamp_ns=0):
    positions = valid_pose() if positions is None else positions
    confidence = np.ones(NUM_JOINTS, np.float32) if confidence is None else confidence
    return Skeleton3D(header=header_at(stamp_ns), track_id=track_id, layout=layout,
                      positions=float32_field(np.ravel(positions)),
                      confidence=float32_field(confidence))


def bad_skeletons():
    nan_pose = valid_pose().copy()
    nan_pose[3, 2] = np.nan
    inf_pose = valid_pose().copy()
    inf_pose[0, 0] = np.inf
    return {
        "non_finite": [skeleton("nan", nan_pose), skeleton("inf", inf_pose)],
        "wrong_joint_count": [skeleton("short", valid_pose()[:15],
                                       np.ones(15, np.float32))],
        "unknown_layout": [skeleton("mp", layout="mediapipe_pose33")],
        "empty": [skeleton("empty", np.zeros((0, 3)), np.zeros(0, np.float32))],
        "bad_confidence": [skeleton("conf", confidence=np.full(NUM_JOINTS, 2.0, np.float32))],
    }


def sent_and_answered(harness, msg: Skeleton3DArray, marker_ns: int | None = None) -> list:
    """Publish one frame, then a frame with nobody in it; the answers that came before it."""
    marker_ns = marker_ns or stamp_to_ns(msg.header.stamp) + 1_000
    before = len(harness.forecasts)
    harness.send(msg)
    harness.send(Skeleton3DArray(header=header_at(marker_ns)))  # nobody there: empty answer
    wait_for(lambda: any(stamp_to_ns(m.header.stamp) == marker_ns
                         for m in harness.forecasts[before:]))
    return [m for m in harness.forecasts[before:] if stamp_to_ns(m.header.stamp) != marker_ns]


@pytest.mark.parametrize("reason", sorted(bad_skeletons()))
def test_each_malformed_skeleton_is_rejected_counted_and_never_forecast(harness, reason):
    skeletons = bad_skeletons()[reason]
    count_before = harness.predictor.drops.totals.get(reason, 0)
    stamp_ns = now_ns(harness)
    answers = sent_and_answered(harness, Skeleton3DArray(header=header_at(stamp_ns),
                                                         skeletons=skeletons))
    assert answers == []
    assert harness.predictor.drops.totals[reason] == count_before + len(skeletons)
    assert not {s.track_id for s in skeletons} & set(harness.predictor.core.tracker.windows)
    wait_for(lambda: harness.diagnostics and harness.diagnostics[-1].get(
        f"dropped_{reason}_total") == str(count_before + len(skeletons)))


def test_duplicate_out_of_order_and_stale_stamps_are_rejected_and_counted(harness):
    drops = harness.predictor.drops.totals
    base_ns = now_ns(harness) - 5_000_000_000
    for k in range(3):
        sent_and_answered(harness, frame(base_ns + k * 33_000_000, {"t": valid_pose()}))
    before = dict(drops)
    newest_ns = base_ns + 2 * 33_000_000
    assert sent_and_answered(harness, frame(newest_ns, {"t": valid_pose()})) == []
    assert sent_and_answered(harness, frame(newest_ns - 20_000_000, {"t": valid_pose()})) == []
    two = Skeleton3DArray(header=header_at(newest_ns + 33_000_000),
                          skeletons=[skeleton("t"), skeleton("t")])
    answers = sent_and_answered(harness, two)
    assert [f.track_id for f in answers[0].forecasts] == ["t"]  # the first one counts
    assert harness.predictor.core.tracker.num_frames("t") == 4
    assert sent_and_answered(harness, frame(now_ns(harness) - 60_000_000_000,
                                            {"t": valid_pose()}), now_ns(harness)) == []
    for reason in ("duplicate_stamp", "out_of_order", "duplicate_track_id"):
        assert drops[reason] == before.get(reason, 0) + 1, reason
    assert drops["stale_stamp"] == before.get("stale_stamp", 0) + 1
    reasons = ("duplicate_stamp", "out_of_order", "stale_stamp", "duplicate_track_id")
    wait_for(lambda: harness.diagnostics and all(
        harness.diagnostics[-1].get(f"dropped_{r}_total") == str(drops[r]) for r in reasons))


def test_time_jump_backwards_resets_the_track_and_is_counted(harness):
    base_ns = now_ns(harness) - 10_000_000_000
    for k in range(4):
        sent_and_answered(harness, frame(base_ns + k * 33_000_000, {"loop": valid_pose()}))
    counts = harness.predictor.core.counts
    resets_before = counts["time_jump_backwards"]
    answers = sent_and_answered(harness, frame(base_ns - 5_000_000_000, {"loop": valid_pose()}))
    assert counts["time_jump_backwards"] == resets_before + 1
    assert harness.predictor.core.tracker.num_frames("loop") == 1
    assert answers[0].forecasts == []  # one frame after the reset: not yet a window
    wait_for(lambda: harness.diagnostics and harness.diagnostics[-1].get(
        "track_resets_time_jump_backwards_total") == str(counts["time_jump_backwards"]))


def test_a_glitched_skeleton_is_held_counted_and_the_person_keeps_their_window(harness):
    """A camera's one-frame glitch (a wrist 1.5 m off, then back): that frame gets no answer,
    the next one is forecast from the person's whole window, and nothing restarts."""
    base_ns = now_ns(harness) - 1_000_000_000
    for k in range(4):
        sent_and_answered(harness, frame(base_ns + k * 33_000_000, {"glitchy": valid_pose()}))
    counts = harness.predictor.core.counts
    held_before, resets_before = counts["jump_held"], counts["implausible_jump"]
    glitch = valid_pose().copy()
    glitch[-1] += 1.5
    assert sent_and_answered(harness, frame(base_ns + 4 * 33_000_000, {"glitchy": glitch})) == []
    answers = sent_and_answered(harness, frame(base_ns + 5 * 33_000_000, {"glitchy": valid_pose()}))
    assert [f.track_id for f in answers[0].forecasts] == ["glitchy"]
    assert counts["jump_held"] == held_before + 1 and counts["implausible_jump"] == resets_before
    assert harness.predictor.core.tracker.num_frames("glitchy") == 5
    wait_for(lambda: harness.diagnostics and harness.diagnostics[-1].get(
        "skeletons_held_after_jump_total") == str(counts["jump_held"]))


class BrokenPredictor:
    name, model_id = "broken", ""

    def predict(self, batch, horizons_s):
        raise RuntimeError("CUDA out of memory")

    def reset_track(self, track_id):
        pass


def test_a_failing_predictor_is_counted_and_nothing_is_published(harness):
    core = harness.predictor.core
    working = core.predictor
    core.predictor = BrokenPredictor()
    try:
        base_ns = now_ns(harness)
        first = sent_and_answered(harness, frame(base_ns, {"p": valid_pose()}))
        second = sent_and_answered(harness, frame(base_ns + 33_000_000, {"p": valid_pose()}))
    finally:
        core.predictor = working
    assert first[0].forecasts == [] and second == []  # a window of 2 frames: then it failed
    assert harness.predictor.drops.totals["predictor_error"] == 1
    third = sent_and_answered(harness, frame(base_ns + 66_000_000, {"p": valid_pose()}))
    assert [f.track_id for f in third[0].forecasts] == ["p"]  # and the node goes on


def test_people_beyond_max_tracks_are_dropped_and_counted(harness):
    before = harness.predictor.drops.totals.get("too_many_tracks", 0)
    crowd = {f"crowd_{k}": valid_pose() + [0.0, k, 0.0] for k in range(20)}
    answers = sent_and_answered(harness, frame(now_ns(harness), crowd))
    assert len(harness.predictor.core.tracker) == 16  # max_tracks
    assert harness.predictor.drops.totals["too_many_tracks"] >= before + 4
    assert answers[0].forecasts == []  # every admitted person has a single frame so far


def test_a_predictor_that_cannot_run_stops_the_node_at_start_with_the_reason(harness):
    with pytest.raises(ValueError, match=r"not configured: RuntimeError: CUDA out of memory"):
        PredictorNode(overrides={"skeletons_topic": "unused"}, predictor=BrokenPredictor())


@pytest.mark.slow
def test_the_nermo_predictor_forecasts_every_frame_in_the_node(harness, tmp_path):
    node = PredictorNode(default_config("predictor.yaml"), {
        "predictor": "nermo", "backend": "torch", "checkpoint": nermo_checkpoint(tmp_path),
        "skeletons_topic": "nermo/skeletons", "forecast_topic": "nermo/human_forecast",
        "markers_topic": "nermo/markers", "input_reliability": "reliable",
        "input_queue_depth": 100, "max_stamp_age_s": 30.0})
    answers: list[HumanForecastArray] = []
    harness.node.create_subscription(HumanForecastArray, "nermo/human_forecast",
                                     answers.append, 100)
    publisher = harness.node.create_publisher(Skeleton3DArray, "nermo/skeletons", QoSProfile(
        depth=100, reliability=ReliabilityPolicy.RELIABLE))
    harness.executor.add_node(node)
    try:
        wait_for(lambda: publisher.get_subscription_count() >= 1)
        clip = load_clip(DEFAULT_CLIP)
        start_ns = now_ns(harness) - int(clip.times_s[15] * 1e9)
        stamps_ns = [start_ns + int(round(t * 1e9)) for t in clip.times_s[:15]]
        for stamp_ns, pose in zip(stamps_ns, clip.positions_m):
            publisher.publish(frame(stamp_ns, {"walker": pose}))
        wait_for(lambda: len(answers) >= len(stamps_ns), timeout_s=120)
    finally:
        detach(harness.executor, node)
    assert [stamp_to_ns(a.header.stamp) for a in answers] == stamps_ns
    for answer in answers[1:]:
        (forecast,) = answer.forecasts
        arrays = forecast_arrays(forecast)
        assert forecast.predictor.split(";")[0] == "nermo" and forecast.model_id
        assert np.isfinite(arrays.positions_m).all() and (arrays.uncertainty_m > 0).all()
    assert {reason for reason in node.drops.totals if reason not in ROUTINE} == set()


def test_finite_but_huge_positions_are_dropped_counted_and_never_forecast(harness):
    drops = harness.predictor.drops.totals
    base_ns = now_ns(harness)
    sent_and_answered(harness, frame(base_ns, {"huge": valid_pose()}))
    before = drops.get("implausible_position", 0)
    for value in (1e30, float(np.finfo(np.float32).max)):
        huge = np.full((NUM_JOINTS, 3), value, np.float32)
        base_ns += 33_000_000
        assert sent_and_answered(harness, frame(base_ns, {"huge": huge})) == []
    assert drops["implausible_position"] == before + 2
    wait_for(lambda: harness.diagnostics and harness.diagnostics[-1].get(
        "dropped_implausible_position_total") == str(drops["implausible_position"]))


def test_a_stamp_an_hour_ahead_or_with_nanosec_past_a_second_is_refused(harness):
    drops = harness.predictor.drops.totals
    base_ns = now_ns(harness)
    for k in range(2):
        sent_and_answered(harness, frame(base_ns + k * 33_000_000, {"here": valid_pose()}))
    ahead = frame(base_ns + 3600 * 1_000_000_000, {"future": valid_pose()})
    assert sent_and_answered(harness, ahead, base_ns + 66_000_000) == []
    broken = frame(base_ns + 90_000_000, {"here": valid_pose()})
    broken.header.stamp.nanosec = 1_500_000_000
    assert sent_and_answered(harness, broken, base_ns + 99_000_000) == []
    assert drops["future_stamp"] >= 1 and drops["bad_stamp"] >= 1
    answers = sent_and_answered(harness, frame(base_ns + 133_000_000, {"here": valid_pose()}))
    assert [f.track_id for f in answers[0].forecasts] == ["here"]  # its window survived


@pytest.mark.parametrize("name, value, message", [
    ("backend", "tensorrtx", "backend='tensorrtx' must be one of auto"),
    ("horizons_s", [], "horizons_s"),
    ("max_stamp_age_s", -1.0, "max_stamp_age_s=-1.0 must be >= 0"),
    ("min_joint_confidence", 1.5, "min_joint_confidence=1.5"),
])
def test_settings_that_cannot_be_honoured_refuse_to_start(harness, name, value, message):
    with pytest.raises(ValueError, match=message):
        PredictorNode(overrides={"skeletons_topic": "unused", "predictor": "constant_velocity",
                                 name: value})


class FallbackPredictor(ConstantVelocityPredictor):
    """Constant velocity standing in for a compiled backend it could not run."""

    fallback_reason = "backend 'cudagraph' needs a CUDA GPU; running 'onnxruntime' on the CPU"


def test_a_crawl_hands_horizons_to_a_baseline_named_in_the_forecast_and_warned(harness,
                                                                                  tmp_path):
    """The track record in the node: the shipped model on DeepMimic's crawl (motion CMU does
    not show) gives its short horizons to constant velocity, says so in each forecast's
    predictor field, and WARNs on /diagnostics with the errors that chose it."""
    node = PredictorNode(default_config("predictor.yaml"), {
        "predictor": "nermo", "backend": "torch", "checkpoint": nermo_checkpoint(tmp_path),
        "skeletons_topic": "crawl/skeletons", "forecast_topic": "crawl/human_forecast",
        "markers_topic": "crawl/markers", "input_reliability": "reliable",
        "input_queue_depth": 200, "max_stamp_age_s": 30.0, "diagnostics_period_s": 0.2})
    answers: list[HumanForecastArray] = []
    statuses: list[DiagnosticStatus] = []
    harness.node.create_subscription(HumanForecastArray, "crawl/human_forecast",
                                     answers.append, 200)
    harness.node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: statuses.extend(
        s for s in m.status if "track record" in s.message), 10)
    publisher = harness.node.create_publisher(Skeleton3DArray, "crawl/skeletons", QoSProfile(
        depth=200, reliability=ReliabilityPolicy.RELIABLE))
    harness.executor.add_node(node)
    try:
        wait_for(lambda: publisher.get_subscription_count() >= 1)
        clip = load_clip("humanoid3d_crawl.txt")
        frames = 150  # 2.5 s at 60 Hz
        start_ns = now_ns(harness) - int(clip.times_s[frames] * 1e9)
        for t_s, pose in zip(clip.times_s[:frames], clip.positions_m):
            publisher.publish(frame(start_ns + int(round(t_s * 1e9)), {"crawler": pose}))
        wait_for(lambda: len(answers) >= frames and statuses, timeout_s=120)
    finally:
        detach(harness.executor, node)
    names = [answer.forecasts[0].predictor for answer in answers if answer.forecasts]
    assert names[0] == "nermo"  # nothing scored yet
    assert any(name.startswith("nermo; constant_velocity at 0.08") for name in names[-50:])
    status = statuses[-1]
    values = status_values(status)
    assert status.level == DiagnosticStatus.WARN
    assert re.search(r"crawler: constant_velocity at 0\.08.* s \(lately \d+ mm off there, "
                     r"nermo \d+ mm\)", status.message)
    assert int(values["track_record_forecasts_with_baseline_total"]) > 0
    assert int(values["track_record_switches_total"]) >= 1
    assert float(values["track_record_radius_scale_max"]) > 1.0  # the crawl's misses widened it


def test_a_declared_fallback_shows_as_warn_with_its_reason(harness):
    statuses = []
    node = PredictorNode(overrides={"skeletons_topic": "fallback/skeletons",
                                    "forecast_topic": "fallback/forecast",
                                    "diagnostics_period_s": 0.1},
                         predictor=FallbackPredictor())
    harness.node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: statuses.extend(
        s for s in m.status if status_values(s).get("predictor") == FallbackPredictor.name
        and status_values(s).get("fallback") != "none"), 10)
    harness.executor.add_node(node)
    try:
        wait_for(lambda: statuses)
    finally:
        detach(harness.executor, node)
    assert statuses[-1].level == DiagnosticStatus.WARN
    assert "needs a CUDA GPU" in statuses[-1].message
    assert "needs a CUDA GPU" in status_values(statuses[-1])["fallback"]


class SlowPredictor(ConstantVelocityPredictor):
    """Takes 30 ms a frame: frames sent every 5 ms must be skipped, not queued."""

    def predict(self, batch, horizons_s):
        time.sleep(0.03)
        return super().predict(batch, horizons_s)


def test_under_overload_the_newest_frame_is_processed_and_every_skipped_one_counted(harness):
    node = PredictorNode(overrides={"skeletons_topic": "slow/skeletons",
                                    "forecast_topic": "slow/forecast", "max_stamp_age_s": 30.0,
                                    "input_reliability": "best_effort", "warm_up": False,
                                    "diagnostics_period_s": 0.2}, predictor=SlowPredictor())
    answers: list[HumanForecastArray] = []
    harness.node.create_subscription(HumanForecastArray, "slow/forecast", answers.append, 1000)
    publisher = harness.node.create_publisher(Skeleton3DArray, "slow/skeletons", 1000)
    harness.executor.add_node(node)
    sent = 100
    try:
        wait_for(lambda: publisher.get_subscription_count() >= 1)
        base_ns = now_ns(harness)
        for k in range(sent):
            publisher.publish(frame(base_ns + k * 5_000_000, {"runner": valid_pose()}))
            time.sleep(0.005)
        wait_for(lambda: node.flow.frames_received + node.flow.frames_skipped >= sent)
        time.sleep(0.2)
        flow = node.flow
        report = node.report()
    finally:
        detach(harness.executor, node)
    assert flow.frames_skipped > sent // 3  # overloaded: most frames were never processed...
    assert flow.frames_received + flow.frames_skipped == sent  # ...and every one is counted
    assert stamp_to_ns(answers[-1].header.stamp) == base_ns + (sent - 1) * 5_000_000  # newest
    assert report.level == DiagnosticStatus.WARN
    assert report.values["frames_skipped_total"] == flow.frames_skipped


def test_a_managed_node_publishes_only_once_configured_and_activated(harness):
    node = PredictorNode(overrides={"skeletons_topic": "managed/skeletons",
                                    "forecast_topic": "managed/forecast",
                                    "predictor": "constant_velocity", "max_stamp_age_s": 30.0},
                         autostart=False)
    answers: list[HumanForecastArray] = []
    harness.node.create_subscription(HumanForecastArray, "managed/forecast", answers.append, 100)
    publisher = harness.node.create_publisher(Skeleton3DArray, "managed/skeletons", 100)
    harness.executor.add_node(node)
    try:
        time.sleep(0.3)
        assert publisher.get_subscription_count() == 0  # unconfigured: not even listening
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        wait_for(lambda: publisher.get_subscription_count() >= 1)
        publisher.publish(frame(now_ns(harness), {"p": valid_pose()}))
        wait_for(lambda: node.flow.inactive >= 1)
        assert answers == []  # configured but inactive: nothing goes out
        node.trigger_activate()
        publisher.publish(frame(now_ns(harness), {"p": valid_pose()}))
        wait_for(lambda: answers)
    finally:
        detach(harness.executor, node)


def test_a_best_effort_frame_too_large_to_arrive_is_still_accounted_for(harness):
    """Frames sent = frames received + frames counted as skipped, even for a ~1.6 MB one."""
    node = PredictorNode(overrides={"skeletons_topic": "large/skeletons",
                                    "forecast_topic": "large/forecast", "max_stamp_age_s": 30.0,
                                    "predictor": "constant_velocity", "warm_up": False})
    publisher = harness.node.create_publisher(
        Skeleton3DArray, "large/skeletons",
        QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
    harness.executor.add_node(node)
    try:
        wait_for(lambda: publisher.get_subscription_count() >= 1)
        base_ns = now_ns(harness)
        huge = Skeleton3DArray(header=header_at(base_ns + 33_000_000), skeletons=[skeleton(
            "huge", np.zeros(400_000, np.float32), np.ones(NUM_JOINTS, np.float32))])
        for msg in (frame(base_ns, {"p": valid_pose()}), huge,
                    frame(base_ns + 66_000_000, {"p": valid_pose()})):
            publisher.publish(msg)
            time.sleep(0.3)
        wait_for(lambda: node.flow.frames_received + node.flow.frames_skipped >= 3)
        time.sleep(0.3)
        flow = node.flow
    finally:
        detach(harness.executor, node)
    assert flow.frames_received + flow.frames_skipped == 3
    if flow.frames_received == 3:  # this transport carried it: refused as malformed instead
        assert node.drops.totals["wrong_joint_count"] == 1
    else:
        assert flow.frames_skipped == 1


def test_parameters_change_only_while_unconfigured_and_take_effect_at_configure(harness):
    """`ros2 param set` on the running node is refused with what to do, rather than taken and
    never read; after `ros2 lifecycle set /predictor cleanup` a value is checked against its
    range, taken, and used at the next configure. (Last in the module: it reconfigures the
    harness's node, and restores it.)"""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient

    parameters = AsyncParameterClient(harness.node, "predictor")
    lifecycle = harness.node.create_client(ChangeState, "/predictor/change_state")
    wait_for(lambda: parameters.services_are_ready() and lifecycle.service_is_ready())

    def answer(future):
        wait_for(future.done)
        return future.result()

    def set_parameter(name, value):
        return answer(parameters.set_parameters([Parameter(name, value=value)])).results[0]

    def change_state(*transitions):
        for transition in transitions:
            request = ChangeState.Request(transition=Transition(id=transition))
            assert answer(lifecycle.call_async(request)).success, transition

    refused = set_parameter("horizons_s", [0.2, 0.5])
    assert not refused.successful
    assert "ros2 lifecycle set /predictor deactivate" in refused.reason
    assert list(harness.predictor.settings.horizons_s) == HORIZONS_S
    change_state(Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP)
    try:
        out_of_range = set_parameter("max_joint_speed_mps", -1.0)
        assert not out_of_range.successful
        assert out_of_range.reason == "max_joint_speed_mps=-1.0 must be > 0.0"
        assert set_parameter("horizons_s", [0.2, 0.5]).successful
        change_state(Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE)
        assert list(harness.predictor.settings.horizons_s) == [0.2, 0.5]
        wait_for(lambda: harness.publisher.get_subscription_count() >= 1)
        base_ns = now_ns(harness) - 1_000_000_000
        sent_and_answered(harness, frame(base_ns, {"reconfigured": valid_pose()}))
        (answer_,) = sent_and_answered(harness, frame(base_ns + 33_000_000,
                                                      {"reconfigured": valid_pose()}))
        assert list(answer_.forecasts[0].time_offsets_s) == pytest.approx([0.2, 0.5])
    finally:
        change_state(Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP)
        assert set_parameter("horizons_s", HORIZONS_S).successful
        change_state(Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE)
        wait_for(lambda: harness.publisher.get_subscription_count() >= 1)
