"""The predictor parameters that switch the planner outputs on and off, in one table.

The predictor's parameter table (``forecasting/settings.py``) takes these rows as they are, so
the node declares them, config/predictor.yaml lists them and ``PredictorSettings`` carries them.
``planner_output_settings`` reads them from that settings object or from a plain mapping
(missing names take their defaults) and checks them against the forecast horizons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from nermo_ros.parameters import ParamSpec, at_least, check_values, coerce_value

PLANNER_OUTPUT_PARAMS = (
    ParamSpec("publish_hri_ids", True, "Publish the tracked body ids on /humans/bodies/tracked "
              "(hri_msgs/IdsList, REP-155) once per input frame"),
    ParamSpec("publish_body_tf", True, "Publish on /tf per person a frame body_<id> at the "
              "mid-hip (x forward, z up; parent: the skeletons' frame), REP-155"),
    ParamSpec("publish_joint_tf", True, "With publish_body_tf, also the joint frames "
              "<joint>_<id> (children of body_<id>); about 0.4 ms per person and frame"),
    ParamSpec("tf_forecast_horizon_s", 0.4, "With publish_body_tf, also the frames predicted "
              "this far ahead, named body_<id>_forecast_<ms>ms (and <joint>_<id>_forecast_<ms>ms"
              "); one of horizons_s, or 0 for none", at_least(0.0)),
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
        """The horizon row of the forecast TF frames; None when they are off."""
        if not self.publish_body_tf or self.tf_forecast_horizon_s == 0.0:
            return None
        return horizon_index(self.horizons_s, self.tf_forecast_horizon_s)


def horizon_index(horizons_s: Sequence[float], horizon_s: float) -> int:
    """The row of ``horizon_s`` in ``horizons_s`` (to a microsecond); ValueError naming both."""
    for index, candidate in enumerate(horizons_s):
        if abs(candidate - horizon_s) < 1e-6:
            return index
    raise ValueError(f"tf_forecast_horizon_s={horizon_s!r} is not one of horizons_s="
                     f"{list(horizons_s)}; set it to one of them, or to 0 for no forecast "
                     f"frames")


def planner_output_settings(values: Mapping[str, Any] | Any) -> PlannerOutputSettings:
    """The planner-output settings from a mapping or a settings object (``PredictorSettings``)
    holding ``horizons_s`` and any of ``PLANNER_OUTPUT_PARAMS``; ValueError naming each value
    out of range."""
    def given(name: str) -> Any:
        if isinstance(values, Mapping):
            return values.get(name, _SPECS[name].default if name in _SPECS else None)
        return getattr(values, name, _SPECS[name].default if name in _SPECS else None)

    if given("horizons_s") is None:
        raise ValueError("planner outputs need horizons_s (the forecast offsets in seconds); "
                         "pass the predictor's settings, not only the planner-output values")
    typed = {name: coerce_value(spec, given(name)) for name, spec in _SPECS.items()}
    check_values(PLANNER_OUTPUT_PARAMS, typed)
    settings = PlannerOutputSettings(horizons_s=tuple(float(h) for h in given("horizons_s")),
                                     **typed)
    if settings.publish_body_tf and settings.tf_forecast_horizon_s != 0.0:
        horizon_index(settings.horizons_s, settings.tf_forecast_horizon_s)  # refused at start
    return settings
