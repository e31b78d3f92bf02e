"""forecasting/truth.py: which waiting horizons a new frame settles, and the truth there."""

import numpy as np

from nermo_ros.forecasting.truth import arrivals, between

MS = 1_000_000


def test_each_horizon_arrives_with_exactly_one_frame_and_is_weighted_by_where_it_falls():
    stamps_ns = np.array([0, 20 * MS])  # two forecasts waiting
    horizons_ns = np.array([100 * MS, 200 * MS])
    waiting = np.ones((2, 2), bool)
    # frames at 50 and 150 ms: only the first forecast's 100 ms horizon falls between them
    rows, horizons, target_ns, weight = arrivals(stamps_ns, waiting, horizons_ns,
                                                 50 * MS, 150 * MS)
    assert rows.tolist() == [0, 1] and horizons.tolist() == [0, 0]
    assert target_ns.tolist() == [100 * MS, 120 * MS]
    np.testing.assert_allclose(weight, [0.5, 0.7])
    # the next frame, at 250 ms, settles the 200 ms horizon of the first forecast, not the
    # 100 ms ones again; a horizon due exactly at the newest frame counts (weight 1)
    rows, horizons, target_ns, weight = arrivals(stamps_ns, waiting, horizons_ns,
                                                 150 * MS, 200 * MS)
    assert list(zip(rows.tolist(), horizons.tolist())) == [(0, 1)]
    np.testing.assert_allclose(weight, [1.0])


def test_scored_horizons_and_per_forecast_frames_are_honoured():
    stamps_ns = np.array([0, 0])
    horizons_ns = np.array([100 * MS])
    waiting = np.array([[False], [True]])  # the first one was scored already
    previous_ns = np.array([50 * MS, 90 * MS])  # two people, each with their own frames
    newest_ns = np.array([150 * MS, 110 * MS])
    rows, horizons, _, weight = arrivals(stamps_ns, waiting, horizons_ns, previous_ns,
                                         newest_ns)
    assert rows.tolist() == [1] and horizons.tolist() == [0]
    np.testing.assert_allclose(weight, [0.5])


def test_the_truth_lies_on_the_line_between_the_two_frames():
    previous_m = np.zeros((2, 3))
    newest_m = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    truth = between(previous_m, newest_m, np.array([0.25, 1.0]))
    assert truth.shape == (2, 2, 3)
    np.testing.assert_allclose(truth[0], 0.25 * newest_m)
    np.testing.assert_allclose(truth[1], newest_m)
    per_arrival = between(np.zeros((2, 2, 3)), np.stack([newest_m, 2 * newest_m]),
                          np.array([0.5, 0.5]))
    np.testing.assert_allclose(per_arrival[1], newest_m)
