"""Build a predictor by name, as the `predictor` parameter names it."""

from __future__ import annotations

from typing import Any

from nermo_ros.predictors.base import Predictor

PREDICTOR_NAMES = ("nermo", "constant_velocity", "zero_velocity")


def make_predictor(name: str, **settings: Any) -> Predictor:
    """``settings`` go to the NeRMo predictor (checkpoint, backend, adaptation steps...).

    The baselines take none of them and ignore them, so one node configuration can switch
    predictors by name alone.
    """
    if name == "zero_velocity":
        from nermo_ros.predictors.baselines import ZeroVelocityPredictor

        return ZeroVelocityPredictor()
    if name == "constant_velocity":
        from nermo_ros.predictors.baselines import ConstantVelocityPredictor

        return ConstantVelocityPredictor()
    if name == "nermo":
        try:
            from nermo_ros.predictors.nermo import NermoPredictor
        except ModuleNotFoundError as error:
            if error.name and error.name.startswith("nermo_ros"):
                raise ValueError(
                    "predictor 'nermo' is not available in this checkout "
                    f"({error.name} is missing); choose the predictor constant_velocity or "
                    "zero_velocity") from error
            raise
        return NermoPredictor(**settings)
    raise ValueError(f"unknown predictor {name!r}; choose one of {', '.join(PREDICTOR_NAMES)}")
