"""Both nodes in one process over real DDS, as `nermo-ros run` starts them: a video of a
person through the perception node, every skeleton frame answered by a forecast array."""

import os
import time

import pytest

rclpy = pytest.importorskip("rclpy")

from nermo_ros.msg import HumanForecastArray, Skeleton3DArray  # noqa: E402
from nermo_ros.nodes.bringup import build_nodes, input_overrides, spin_until  # noqa: E402
from nermo_ros.nodes.msg_convert import forecast_arrays, stamp_to_ns  # noqa: E402
from nermo_ros.nodes.predictor_status import ROUTINE  # noqa: E402
from perception_media import write_astronaut_video  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
DOMAIN_ID = 11 + os.getpid() % 10  # domains 11-20: its own, for parallel test runs


def test_perception_and_predictor_answer_every_video_frame_with_a_forecast(tmp_path):
    video = write_astronaut_video(tmp_path / "astronaut.avi", num_frames=10)
    rclpy.init(domain_id=DOMAIN_ID)
    try:
        nodes = build_nodes(None, {"input_reliability": "reliable"},
                            perception_overrides={**input_overrides(str(video)),
                                                  "video_loop": True})
        probe = rclpy.create_node("pipeline_probe")
        skeletons, forecasts = [], {}
        probe.create_subscription(Skeleton3DArray, "skeletons", skeletons.append, 50)
        probe.create_subscription(HumanForecastArray, "human_forecast",
                                  lambda m: forecasts.setdefault(stamp_to_ns(m.header.stamp), m),
                                  50)
        deadline_s = time.monotonic() + 60
        spin_until(nodes + [probe], lambda: len(skeletons) >= 25
                   or time.monotonic() > deadline_s)
        predictor = nodes[-1]
        for node in nodes + [probe]:
            node.destroy_node()
    finally:
        rclpy.try_shutdown()
    # Skip the frames sent before the predictor and the probe had found each other, and the
    # last one or two whose answer was in flight when the nodes stopped.
    answered = [msg for msg in skeletons if stamp_to_ns(msg.header.stamp) in forecasts]
    assert answered, "no skeleton frame got a forecast"
    first, last = skeletons.index(answered[0]), skeletons.index(answered[-1])
    assert last >= len(skeletons) - 3
    later = skeletons[first:last + 1]
    assert len(later) >= 20
    assert all(stamp_to_ns(msg.header.stamp) in forecasts for msg in later)
    people_frames = [msg for msg in later[1:] if msg.skeletons]
    assert len(people_frames) >= 15, "MediaPipe found the astronaut too rarely"
    for msg in people_frames:
        answer = forecasts[stamp_to_ns(msg.header.stamp)]
        assert [f.track_id for f in answer.forecasts] == [s.track_id for s in msg.skeletons]
        for forecast in map(forecast_arrays, answer.forecasts):
            assert forecast.positions_m.shape == (len(predictor.core.horizons_s), 17, 3)
    # nothing dropped (a track record's hand-over to a baseline is logged, not a drop)
    assert {reason for reason in predictor.drops.totals if reason not in ROUTINE} == set()
