"""Sliding windows, masks, real timestamps, expiry and input validation (no DDS)."""

import numpy as np
import pytest

from nermo_ros.skeleton import JOINT_NAMES, LAYOUT_ID, NUM_JOINTS
from nermo_ros.tracking.tracker import Accepted, Tracker, TrackerSettings
from nermo_ros.tracking.validation import (Reason, Rejection, ValidSkeleton, check_stamp_age,
                                           validate_skeleton)

MS = 1_000_000  # nanoseconds


def pose(value: float) -> np.ndarray:
    return np.full((NUM_JOINTS, 3), value, dtype=np.float32)


ALL = np.ones(NUM_JOINTS, dtype=bool)


def make_tracker(**kw) -> Tracker:
    settings = dict(window_s=1.0, window_frames=5, track_timeout_s=1.0, time_jump_reset_s=0.5,
                    max_tracks=3)
    settings.update(kw)
    return Tracker(TrackerSettings(**settings))


def test_window_keeps_newest_frames_last_with_real_irregular_times():
    tracker = make_tracker()
    stamps_ms = [1000, 1033, 1100, 1110, 1200, 1290, 1400]
    for i, t in enumerate(stamps_ms):
        assert tracker.push("a", t * MS, pose(i), ALL) == Accepted()
    batch = tracker.batch(["a"])
    # The 5 newest frames, oldest first, times relative to the newest, in seconds.
    np.testing.assert_allclose(batch.times_s[0], [-0.3, -0.29, -0.2, -0.11, 0.0], atol=1e-9)
    np.testing.assert_array_equal(batch.positions[0, :, 0, 0], [2, 3, 4, 5, 6])
    assert batch.frame_valid.all() and batch.joint_mask.all()


def test_short_track_is_padded_at_the_front_and_padding_is_masked():
    tracker = make_tracker()
    tracker.push("a", 0, pose(1), ALL)
    tracker.push("a", 40 * MS, pose(2), ALL)
    batch = tracker.batch(["a"])
    np.testing.assert_array_equal(batch.frame_valid[0], [False, False, False, True, True])
    assert not batch.joint_mask[0, :3].any()
    np.testing.assert_allclose(batch.times_s[0, 3:], [-0.04, 0.0])


def test_frames_older_than_window_seconds_are_marked_invalid():
    tracker = make_tracker(window_s=0.25)
    for t in (0, 100, 200, 300, 400):
        tracker.push("a", t * MS, pose(t), ALL)
    batch = tracker.batch(["a"])
    np.testing.assert_array_equal(batch.frame_valid[0], [False, False, True, True, True])
    assert tracker.num_frames("a") == 3


def test_missing_joints_stay_masked_in_the_batch():
    tracker = make_tracker()
    observed = ALL.copy()
    observed[JOINT_NAMES.index("left_wrist")] = False
    tracker.push("a", 0, pose(1), observed)
    mask = tracker.batch(["a"]).joint_mask[0, -1]
    assert not mask[JOINT_NAMES.index("left_wrist")] and mask.sum() == NUM_JOINTS - 1


def test_duplicate_and_out_of_order_stamps_are_rejected_with_reasons():
    tracker = make_tracker()
    tracker.push("a", 1000 * MS, pose(1), ALL)
    assert tracker.push("a", 1000 * MS, pose(2), ALL).reason == Reason.DUPLICATE_STAMP
    assert tracker.push("a", 900 * MS, pose(2), ALL).reason == Reason.OUT_OF_ORDER
    assert tracker.num_frames("a") == 1


def test_time_jump_backwards_resets_track():
    tracker = make_tracker()
    for t in (5000, 5033, 5066):
        tracker.push("a", t * MS, pose(1), ALL)
    assert tracker.push("a", 0, pose(9), ALL) == Accepted(reset=True)
    assert tracker.num_frames("a") == 1
    assert tracker.batch(["a"]).positions[0, -1, 0, 0] == 9


def test_tracks_expire_after_timeout_and_after_a_far_jump():
    tracker = make_tracker(track_timeout_s=1.0)
    tracker.push("old", 0, pose(1), ALL)
    tracker.push("new", 900 * MS, pose(1), ALL)
    assert tracker.expire(1000 * MS) == []
    assert tracker.expire(1001 * MS + 1) == ["old"]
    tracker.push("back", 900 * MS, pose(1), ALL)
    # A bag looped: the tracks of the new frame are reset by push, the others are forgotten.
    assert tracker.expire(0, keep={"back"}) == ["new"]
    assert list(tracker.windows) == ["back"]


def test_too_many_tracks_is_rejected_not_grown():
    tracker = make_tracker(max_tracks=2)
    tracker.push("a", 0, pose(1), ALL)
    tracker.push("b", 0, pose(1), ALL)
    assert tracker.push("c", 0, pose(1), ALL).reason == Reason.TOO_MANY_TRACKS
    assert sorted(tracker.windows) == ["a", "b"]


def test_batch_of_two_tracks_has_each_ones_own_times():
    tracker = make_tracker()
    tracker.push("a", 0, pose(1), ALL)
    tracker.push("a", 100 * MS, pose(2), ALL)
    tracker.push("b", 50 * MS, pose(5), ALL)
    batch = tracker.batch(["b", "a"])
    assert batch.track_ids == ["b", "a"]
    np.testing.assert_allclose(batch.times_s[1, -2:], [-0.1, 0.0])
    assert batch.frame_valid[0].sum() == 1 and batch.positions[0, -1, 0, 0] == 5


def test_bad_settings_are_refused_with_the_value():
    with pytest.raises(ValueError, match="window_frames=0"):
        TrackerSettings(window_frames=0)


def flat(value: float = 0.5):
    return np.full(3 * NUM_JOINTS, value, dtype=np.float32), np.ones(NUM_JOINTS, np.float32)


def test_valid_skeleton_passes_and_missing_joint_may_be_nan():
    positions, confidence = flat()
    positions[:3] = np.nan
    confidence[0] = 0.0
    result = validate_skeleton(LAYOUT_ID, [], positions, confidence)
    assert isinstance(result, ValidSkeleton)
    assert not result.observed[0] and result.positions_m[0].tolist() == [0, 0, 0]


@pytest.mark.parametrize("change, reason", [
    (lambda p, c: (np.array([], np.float32), np.array([], np.float32)), Reason.EMPTY),
    (lambda p, c: (p[:-3], c[:-1]), Reason.WRONG_JOINT_COUNT),
    (lambda p, c: (np.where(np.arange(p.size) == 4, np.inf, p), c), Reason.NON_FINITE),
    (lambda p, c: (np.where(np.arange(p.size) == 4, np.nan, p), c), Reason.NON_FINITE),
    (lambda p, c: (p, c * 0), Reason.NO_OBSERVED_JOINTS),
    (lambda p, c: (p, c * 2), Reason.BAD_CONFIDENCE),
])
def test_bad_skeletons_are_rejected_with_their_reason(change, reason):
    positions, confidence = change(*flat())
    result = validate_skeleton(LAYOUT_ID, [], positions, confidence)
    assert isinstance(result, Rejection) and result.reason == reason
    assert result.detail


def test_unknown_layout_or_joint_order_is_rejected():
    positions, confidence = flat()
    assert validate_skeleton("mediapipe33", [], positions, confidence).reason == \
        Reason.UNKNOWN_LAYOUT
    names = list(JOINT_NAMES[::-1])
    assert validate_skeleton(LAYOUT_ID, names, positions, confidence).reason == \
        Reason.UNKNOWN_LAYOUT
    assert isinstance(validate_skeleton(LAYOUT_ID, list(JOINT_NAMES), positions, confidence),
                      ValidSkeleton)


def test_stale_stamp_is_judged_by_the_node_clock():
    assert check_stamp_age(0, 400 * MS, max_age_s=0.5) is None
    assert check_stamp_age(0, 600 * MS, max_age_s=0.5).reason == Reason.STALE_STAMP
    assert check_stamp_age(0, 10**12, max_age_s=0.0) is None  # 0 disables it


class Person:
    def __init__(self, track_id, value=0.5, layout=LAYOUT_ID):
        self.track_id, self.layout, self.joint_names = track_id, layout, []
        self.positions = np.full(3 * NUM_JOINTS, value, np.float32)
        self.confidence = np.ones(NUM_JOINTS, np.float32)


def test_a_frame_fills_windows_and_names_who_can_be_forecast():
    from nermo_ros.tracking.intake import take_frame

    tracker = make_tracker()
    first = take_frame(tracker, 0, [Person("a")], min_frames=2)
    assert first.accepted == 1 and first.ready == []
    second = take_frame(tracker, 33 * MS, [Person("a"), Person("b"), Person("a"),
                                           Person("c", layout="coco17"), Person("")],
                        min_frames=2)
    assert second.accepted == 2 and second.ready == ["a"]
    assert [r.reason for r in second.rejections] == [
        Reason.DUPLICATE_TRACK_ID, Reason.UNKNOWN_LAYOUT, Reason.MISSING_TRACK_ID]


def test_a_bag_loop_resets_the_people_in_the_frame_and_forgets_the_others():
    from nermo_ros.tracking.intake import take_frame

    tracker = make_tracker()
    for t in (5000, 5033):
        take_frame(tracker, t * MS, [Person("a"), Person("b")])
    outcome = take_frame(tracker, 0, [Person("a")])
    assert outcome.reset == ["a"] and outcome.expired == ["b"]
    assert outcome.ready == ["a"] and tracker.num_frames("a") == 1
