"""Identities across frames: matching, speed gate, occlusion memory, max_tracks (no ROS)."""

import numpy as np
import pytest

from nermo_ros.perception.identity import IdentitySettings, IdentityTracker

FRAME_S = 0.1  # 10 Hz: a person at 4 m/s reaches 0.4 m + 0.3 m slack in one frame


def tracker(**settings) -> IdentityTracker:
    return IdentityTracker(IdentitySettings(**settings))


def step(t: IdentityTracker, stamp_s: float, *anchors_m, priority=None) -> list:
    anchors = np.array(anchors_m, dtype=float).reshape(len(anchors_m), 2)
    return t.update(stamp_s, anchors, np.ones(len(anchors_m)), priority)


def test_two_people_walking_keep_their_ids_whatever_order_they_are_reported_in():
    t = tracker()
    assert step(t, 0.0, (0.0, 0.0), (3.0, 0.0)) == ["body_0", "body_1"]
    assert step(t, 0.1, (3.1, 0.0), (0.1, 0.0)) == ["body_1", "body_0"]
    assert step(t, 0.2, (0.2, 0.0), (3.2, 0.0)) == ["body_0", "body_1"]
    assert t.counts.tracks_started == 2 and t.counts.identity_jumps == 0


def test_the_assignment_is_optimal_not_greedy():
    t = tracker()
    step(t, 0.0, (0.0, 0.0), (0.6, 0.0))
    # Greedy nearest-first would give body_1's track the body at 0.35 (0.25 away) and leave
    # body_0 to the body at 0.95, beyond its reach; the optimal pairing keeps both.
    assert step(t, 0.1, (0.35, 0.0), (0.95, 0.0)) == ["body_0", "body_1"]


def test_a_body_that_jumps_further_than_a_person_can_move_is_a_new_counted_track():
    t = tracker(max_speed_mps=4.0, jump_slack_m=0.3)
    step(t, 0.0, (0.0, 0.0))
    assert step(t, 0.1, (0.69, 0.0)) == ["body_0"]  # within 4 m/s * 0.1 s + 0.3 m
    assert step(t, 0.2, (2.5, 0.0)) == ["body_1"]  # 1.8 m in 0.1 s: someone else
    assert t.counts.identity_jumps == 1
    assert step(t, 0.3, (2.6, 0.0)) == ["body_1"]


def test_distance_is_the_anchor_step_times_the_body_scale():
    t = IdentityTracker(IdentitySettings(max_speed_mps=4.0, jump_slack_m=0.3))
    t.update(0.0, np.array([[100.0, 100.0]]), np.array([0.01]))  # 1 cm per pixel
    assert t.update(0.1, np.array([[160.0, 100.0]]), np.array([0.01])) == ["body_0"]  # 0.6 m
    assert t.update(0.2, np.array([[240.0, 100.0]]), np.array([0.01])) == ["body_1"]  # 0.8 m


def test_an_occluded_person_comes_back_under_the_same_id_within_the_memory():
    t = tracker(occlusion_memory_s=1.0)
    step(t, 0.0, (0.0, 0.0), (3.0, 0.0))
    for i in range(1, 6):  # body_1 hidden for half a second
        assert step(t, i * FRAME_S, (0.1 * i, 0.0)) == ["body_0"]
    assert step(t, 0.6, (0.6, 0.0), (3.5, 0.0)) == ["body_0", "body_1"]
    assert t.counts.reacquired_after_occlusion == 1 and t.counts.tracks_started == 2


def test_a_person_unseen_for_longer_than_the_memory_is_forgotten():
    t = tracker(occlusion_memory_s=0.5)
    step(t, 0.0, (0.0, 0.0))
    step(t, 0.1)
    assert step(t, 0.7, (0.0, 0.0)) == ["body_1"]
    assert t.counts.tracks_expired == 1
    assert t.counts.identity_jumps == 0  # nobody was lost in the frame just before


def test_a_remembered_duplicate_does_not_take_a_person_from_the_track_following_them():
    t = tracker()
    step(t, 0.0, (0.0, 0.0), (0.25, 0.0))  # one person reported twice for a frame
    assert step(t, 0.1, (-0.1, 0.0)) == ["body_0"]  # body_1 is remembered at 0.25
    for i in range(2, 6):  # the person walks to and past where body_1 was last seen
        assert step(t, i * FRAME_S, (-0.1 + 0.1 * i, 0.0)) == ["body_0"]
    assert t.counts.reacquired_after_occlusion == 0


def test_max_tracks_keeps_continuing_tracks_then_the_largest_new_bodies_and_counts_the_rest():
    t = tracker(max_tracks=2)
    assert step(t, 0.0, (0.0, 0.0)) == ["body_0"]
    ids = step(t, 0.1, (0.0, 0.0), (5.0, 0.0), (9.0, 0.0), priority=[1.0, 2.0, 3.0])
    assert ids == ["body_0", None, "body_1"]  # the larger new body takes the free place
    assert t.counts.bodies_over_max_tracks == 1


def test_a_new_body_takes_the_place_of_the_track_seen_least_recently():
    t = tracker(max_tracks=2)
    step(t, 0.0, (0.0, 0.0), (5.0, 0.0))
    step(t, 0.1, (0.0, 0.0))  # body_1 unseen since 0.0
    assert step(t, 0.2, (0.0, 0.0), (9.0, 0.0)) == ["body_0", "body_2"]
    assert t.counts.tracks_evicted == 1
    assert [track.track_id for track in t.tracks] == ["body_0", "body_2"]


def test_stamps_going_back_start_every_track_over():
    t = tracker()
    step(t, 5.0, (0.0, 0.0))
    assert step(t, 1.0, (0.0, 0.0)) == ["body_1"]
    assert t.counts.time_jumps == 1


def test_ids_are_never_reused():
    t = tracker(occlusion_memory_s=0.0)
    seen = [step(t, i * FRAME_S, (10.0 * i, 0.0))[0] for i in range(5)]
    assert seen == ["body_0", "body_1", "body_2", "body_3", "body_4"]


@pytest.mark.parametrize("settings, says", [
    ({"max_tracks": 0}, "max_tracks=0 must be > 0"),
    ({"max_speed_mps": -1.0}, "max_speed_mps=-1.0 must be > 0"),
    ({"occlusion_memory_s": -0.5}, "occlusion_memory_s=-0.5 must be >= 0"),
])
def test_identity_settings_that_cannot_work_are_refused_with_the_value(settings, says):
    with pytest.raises(ValueError, match=says):
        IdentitySettings(**settings)
