"""Skeletons without depth are hip-centred (the pelvis always at the origin): no predictor may
turn them into travel across the room."""

import numpy as np
import pytest

from nermo_ros.data.pybullet_clips import DEFAULT_CLIP, load_clip
from nermo_ros.forecasting.core import ForecastCore
from nermo_ros.forecasting.settings import settings_from
from nermo_ros.load.crowd import PELVIS
from nermo_ros.predictors.factory import make_predictor_from_params
from nermo_ros.skeleton import NUM_JOINTS


class Person:
    def __init__(self, positions):
        self.track_id, self.layout, self.joint_names = "body_0", "nermo_body17", ()
        self.positions = positions.astype(np.float32).reshape(-1)
        self.confidence = np.ones(NUM_JOINTS, np.float32)


@pytest.mark.parametrize("predictor", ["nermo", "constant_velocity", "zero_velocity"])
def test_a_hip_centred_walker_is_forecast_without_travel(predictor):
    clip = load_clip(DEFAULT_CLIP, cycles=2)
    hip_centred = clip.positions_m - clip.positions_m[:, PELVIS:PELVIS + 1]  # as without depth
    settings = settings_from({"predictor": predictor, "backend": "torch",
                              "max_stamp_age_s": 0.0})
    core = ForecastCore(make_predictor_from_params(settings.as_params()), settings)
    pelvis_forecasts = []
    for t_s, pose in zip(clip.times_s[:60], hip_centred[:60]):
        result = core.process(int(round(t_s * 1e9)), [Person(pose)])
        if result.track_ids:
            pelvis_forecasts.append(result.forecast.positions[0, :, PELVIS])
    assert len(pelvis_forecasts) > 50
    assert np.abs(np.array(pelvis_forecasts)).max() < 1e-3  # metres, at every horizon
