"""Sliding windows, masks, real timestamps, expiry and input validation (no DDS)."""

import numpy as np
import pytest

from nermo_ros.skeleton import JOINT_NAMES, LAYOUT_ID, NUM_JOINTS
from nermo_ros.tracking.tracker import Accepted, Tracker, TrackerSettings
from nermo_ros.tracking.validation import (BodyLimits, Reason, Rejection, ValidSkeleton,
                                           check_stamp_against_clock, stamp_ns)
from nermo_ros.tracking.validation import validate_skeleton as validate_with_limits

LIMITS = BodyLimits(max_distance_m=100.0, max_body_extent_m=3.0)


def validate_skeleton(layout, names, positions, confidence, min_confidence=0.0,
                      limits=LIMITS):
    return validate_with_limits(layout, names, positions, confidence, min_confidence, limits)

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
    assert tracker.push("a", 0, pose(9), ALL) == Accepted(reset=Reason.TIME_JUMP_BACKWARDS)
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


def test_a_new_person_takes_the_slot_of_the_one_seen_least_recently():
    tracker = make_tracker(max_tracks=2)
    tracker.push("a", 0, pose(1), ALL)
    tracker.push("b", 10 * MS, pose(1), ALL)
    assert tracker.push("c", 20 * MS, pose(1), ALL) == Accepted(evicted="a")
    assert sorted(tracker.windows) == ["b", "c"]


def test_slots_are_not_taken_from_people_of_the_same_frame():
    tracker = make_tracker(max_tracks=2)
    tracker.push("a", 0, pose(1), ALL)
    tracker.push("b", 0, pose(1), ALL)
    assert tracker.push("c", 0, pose(1), ALL, keep={"a", "b", "c"}).reason == \
        Reason.TOO_MANY_TRACKS
    assert sorted(tracker.windows) == ["a", "b"]


def test_a_body_that_jumps_and_stays_there_starts_its_track_over_from_the_jump():
    tracker = make_tracker(max_joint_speed_mps=10.0)
    tracker.push("a", 0, pose(0.0), ALL)
    assert tracker.push("a", 33 * MS, pose(0.3), ALL) == Accepted()  # 9 m/s: a person
    assert tracker.push("a", 66 * MS, pose(1000.0), ALL).reason == Reason.JUMP_HELD
    assert tracker.num_frames("a") == 2  # the jump waits outside the window
    assert tracker.push("a", 100 * MS, pose(1000.1), ALL) == \
        Accepted(reset=Reason.IMPLAUSIBLE_JUMP)
    window = tracker.windows["a"]
    assert tracker.num_frames("a") == 2 and window.stamps_ns[-2] == 66 * MS
    np.testing.assert_allclose(window.positions_m[-2:, 0, 0], [1000.0, 1000.1], atol=1e-3)


def test_a_single_glitched_frame_is_left_out_and_the_track_goes_on():
    tracker = make_tracker(max_joint_speed_mps=10.0)
    for k in range(3):
        tracker.push("a", k * 33 * MS, pose(0.01 * k), ALL)
    glitch = pose(0.02)
    glitch[4] += 1.5  # one joint 1.5 m off for one frame
    assert tracker.push("a", 100 * MS, glitch, ALL).reason == Reason.JUMP_HELD
    assert tracker.push("a", 133 * MS, pose(0.04), ALL) == Accepted()
    window = tracker.windows["a"]
    assert tracker.num_frames("a") == 4 and "a" not in tracker.held
    np.testing.assert_array_equal(window.stamps_ns[-2:], [66 * MS, 133 * MS])


def test_a_jump_that_neither_returns_nor_stays_starts_over_from_the_newest_frame():
    tracker = make_tracker(max_joint_speed_mps=10.0)
    tracker.push("a", 0, pose(0.0), ALL)
    assert tracker.push("a", 33 * MS, pose(100.0), ALL).reason == Reason.JUMP_HELD
    assert tracker.push("a", 66 * MS, pose(200.0), ALL) == \
        Accepted(reset=Reason.IMPLAUSIBLE_JUMP)
    assert tracker.num_frames("a") == 1 and tracker.windows["a"].newest_ns == 66 * MS


def test_a_held_frame_goes_with_its_track_and_orders_the_next_stamps():
    tracker = make_tracker(max_joint_speed_mps=10.0)
    tracker.push("a", 0, pose(0.0), ALL)
    tracker.push("a", 33 * MS, pose(100.0), ALL)
    assert tracker.push("a", 33 * MS, pose(0.0), ALL).reason == Reason.DUPLICATE_STAMP
    assert tracker.push("a", 20 * MS, pose(0.0), ALL).reason == Reason.OUT_OF_ORDER
    assert tracker.expire(2000 * MS) == ["a"]
    assert not tracker.held and not tracker.windows


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
        TrackerSettings(window_s=1.0, window_frames=0, track_timeout_s=1.0,
                        time_jump_reset_s=0.5, max_tracks=1)


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


def test_stale_and_future_stamps_are_judged_by_the_node_clock():
    def check(stamp, now, age=0.5, ahead=0.5):
        return check_stamp_against_clock(stamp, now, age, ahead)

    assert check(0, 400 * MS) is None
    assert check(0, 600 * MS).reason == Reason.STALE_STAMP
    assert check(0, 10**12, age=0.0) is None  # 0 disables it
    assert check(3600 * 1000 * MS, 0).reason == Reason.FUTURE_STAMP  # an hour ahead
    assert check(400 * MS, 0) is None
    assert check(3600 * 1000 * MS, 0, ahead=0.0) is None


def test_a_stamp_with_a_nanosec_field_past_one_second_is_refused():
    assert stamp_ns(2, 5) == 2_000_000_005
    assert stamp_ns(1, 1_000_000_000).reason == Reason.BAD_STAMP
    assert stamp_ns(1, -1).reason == Reason.BAD_STAMP


def test_huge_or_far_or_giant_skeletons_are_implausible():
    positions, confidence = flat(0.5)
    assert isinstance(validate_skeleton(LAYOUT_ID, [], positions, confidence), ValidSkeleton)
    huge = positions.copy()
    huge[:] = 1e30
    assert validate_skeleton(LAYOUT_ID, [], huge, confidence).reason == \
        Reason.IMPLAUSIBLE_POSITION
    top = np.finfo(np.float32).max
    assert validate_skeleton(LAYOUT_ID, [], np.full_like(positions, top), confidence).reason \
        == Reason.IMPLAUSIBLE_POSITION
    giant = positions.copy()
    giant[0] = 10.0  # one joint 9.5 m from the others
    assert validate_skeleton(LAYOUT_ID, [], giant, confidence).reason == \
        Reason.IMPLAUSIBLE_SIZE
