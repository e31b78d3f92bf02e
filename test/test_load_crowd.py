"""The load benchmark's crowd: distinct people, on the spot, with churn that renames them."""

import numpy as np
import pytest

from nermo_ros.data.clip import Clip
from nermo_ros.load.crowd import PELVIS, SPACING_M, Crowd
from nermo_ros.skeleton import NUM_JOINTS


def walking_clip() -> Clip:
    times = np.arange(30) / 30.0
    positions = np.zeros((30, NUM_JOINTS, 3))
    positions[:, :, 0] = 1.2 * times[:, None]  # walks forward at 1.2 m/s
    positions[:, :, 2] = np.linspace(0.0, 1.7, NUM_JOINTS)
    return Clip(times, positions, "walk")


def test_people_stand_apart_and_walk_on_the_spot_through_a_loop():
    crowd = Crowd(walking_clip(), people=3)
    for t_s in (0.0, 0.5, 0.96, 1.0, 5.3):
        frame = crowd.frame(t_s)
        assert sorted(frame) == ["person_0", "person_1", "person_2"]
        pelvis_y = [frame[f"person_{k}"][0][PELVIS, 1] for k in range(3)]
        np.testing.assert_allclose(pelvis_y, [0.0, SPACING_M, 2 * SPACING_M], atol=1e-6)
        assert all(abs(p[0][PELVIS, 0]) < 1e-6 for p in frame.values())


def test_churn_replaces_each_person_with_a_new_id_on_a_staggered_schedule():
    crowd = Crowd(walking_clip(), people=2, churn_s=2.0)
    assert sorted(crowd.frame(0.0)) == ["person_0_0", "person_1_0"]
    assert sorted(crowd.frame(1.5)) == ["person_0_0", "person_1_1"]  # person 1 left at 1 s
    assert sorted(crowd.frame(2.5)) == ["person_0_1", "person_1_1"]
    assert crowd.identities_by(2.5) == 4


def test_a_crowd_of_nobody_is_refused():
    with pytest.raises(ValueError, match="at least one person"):
        Crowd(walking_clip(), people=0)
