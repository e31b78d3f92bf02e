"""The replay schedule: recorded spacing over the rate, the start offset, the loop interval."""

import numpy as np
import pytest

from nermo_ros.bag.timing import ReplaySettings, clock_ns, parse_remaps, schedule

LOG_NS = np.array([10, 10.1, 10.2, 10.5, 11.0]) * 1e9


def test_messages_keep_their_recorded_spacing_divided_by_the_rate():
    sched = schedule(LOG_NS, ReplaySettings(rate=2.0))
    np.testing.assert_allclose(sched.due_s, [0.0, 0.05, 0.1, 0.25, 0.5])
    assert sched.indices.tolist() == [0, 1, 2, 3, 4]
    # a loop restarts one median step (of 0.05, 0.05, 0.15, 0.25 s) after the last message
    assert sched.pass_s == pytest.approx(0.5 + 0.1)


def test_the_start_offset_skips_the_first_seconds_and_the_clock_starts_there():
    sched = schedule(LOG_NS, ReplaySettings(start_offset_s=0.15))
    assert sched.indices.tolist() == [2, 3, 4]
    np.testing.assert_allclose(sched.due_s, [0.05, 0.35, 0.85])
    assert clock_ns(sched, 0.35, rate=1.0) == 10.5e9  # the clock reads the bag's time


def test_bad_settings_and_remaps_say_what_to_write():
    with pytest.raises(ValueError, match="rate must be > 0"):
        ReplaySettings(rate=0.0)
    assert parse_remaps(["/a:=/b", "/c:/d"]) == {"/a": "/b", "/c": "/d"}
    with pytest.raises(ValueError, match="/from:=/to"):
        parse_remaps(["/a"])
