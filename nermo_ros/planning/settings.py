"""The predictor parameters that switch the planner outputs on and off, in one table.

The predictor's parameter table (``forecasting/settings.py``) takes these rows as they are, so
the node declares them, config/predictor.yaml lists them and ``PredictorSettings`` carries them.
``planner_output_settings`` reads them from that settings object or from a plain mapping
(missing names take their defaults) together with the forecast horizons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from nermo_ros.parameters import ParamSpec, at_least, check_values, coerce_value

PLANNER_OUTPUT_PARAMS = (
    ParamSpec("publish_hri_ids", True, "Publish the tracked body ids on /humans/bodies/tracked "
              "(hri_msgs/IdsList, REP-155) once per input frame"),
    ParamSpec("publish_body_tf", True, "Publish on /tf per person a frame body_<id> at the "
              "mid-hip (x forward, z up; parent: the skeletons' frame), REP-155"),
    ParamSpec("publish_joint_tf", False, "With publish_body_tf, also the joint frames "
              "<joint>_<id> (children of body_<id>); off by default: 17 frames a person (34 "
              "with the forecast) cost about 1 ms per person and frame on a 2-core CPU"),
    ParamSpec("tf_forecast_horizon_s", 0.4, "With publish_body_tf, also the frames predicted "
              "this far ahead (the nearest of horizons_s), named body_<id>_forecast_<ms>ms (and "
              "<joint>_<id>_forecast_<ms>ms) after the horizon used; 0 for none",
              at_least(0.0)),
    ParamSpec("publish_people", True, "Publish people_msgs/People on /people: mid-hip "
              "position, velocity and reliability per person (Nav2 social layers, social MPC)"),
    ParamSpec("publish_forecast_paths", True, "Publish per person the forecast mid-hip path "
              "as nav_msgs/Path on /humans/bodies/<id>/forecast_path, one pose per horizon"),
)
_SPECS = {spec.name: spec for spec in PLANNER_OUTPUT_PARAMS}


@dataclass(frozen=True)
class PlannerOutputSettings:
    """Which planner outputs to publish, and the forecast horizons they are built from."""

    publish_hri_ids: bool
    publish_body_tf: bool
    publish_joint_tf: bool
    tf_forecast_horizon_s: float
    publish_people: bool
    publish_forecast_paths: bool
    horizons_s: tuple[float, ...]

    @property
    def tf_forecast_index(self) -> int | None:
        """The horizon row of the forecast TF frames: the horizon nearest to
        ``tf_forecast_horizon_s`` (the frames' names say which); None when they are off."""
        if not self.publish_body_tf or self.tf_forecast_horizon_s == 0.0:
            return None
        return int(np.argmin(np.abs(np.asarray(self.horizons_s) - self.tf_forecast_horizon_s)))


def planner_output_settings(values: Mapping[str, Any] | Any) -> PlannerOutputSettings:
    """The planner-output settings from a mapping or a settings object (``PredictorSettings``)
    holding ``horizons_s`` and any of ``PLANNER_OUTPUT_PARAMS`` (missing ones take their
    defaults); ValueError naming each value out of range."""
    def given(name: str) -> Any:
        default = _SPECS[name].default if name in _SPECS else None
        if isinstance(values, Mapping):
            return values.get(name, default)
        return getattr(values, name, default)

    horizons_s = given("horizons_s")
    if not horizons_s:
        raise ValueError(f"planner outputs need horizons_s (the forecast offsets in seconds), "
                         f"got {horizons_s!r}; pass the predictor's settings, not only the "
                         f"planner-output values")
    typed = {name: coerce_value(spec, given(name)) for name, spec in _SPECS.items()}
    check_values(PLANNER_OUTPUT_PARAMS, typed)
    return PlannerOutputSettings(horizons_s=tuple(float(h) for h in horizons_s), **typed)
