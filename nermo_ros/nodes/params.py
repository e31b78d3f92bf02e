"""Declare a node's ROS parameters from its table (``nermo_ros.parameters``), YAML applied.

A node built with this takes ``(config_path=None, overrides=None)``:

    overrides = parameter_overrides(specs, NODE_NAME, config_path, overrides)
    super().__init__(NODE_NAME, parameter_overrides=overrides)
    values = declare_parameters(self, specs)

Every parameter is declared with its description (so `ros2 param describe` explains it) and
the values come back as a plain dict, so the node's logic never touches rclpy parameter
objects. With ``config_path=None`` and no overrides, values given on the command line
(``--ros-args --params-file ...``, as launch_ros passes them) still apply.

A node reads its values at start (the predictor: when configured), so `ros2 param set` at
run time would change a value the node never reads again. Instead, such a change is refused
with the reason and what to do, and a value out of its range is refused with the check's
sentence.
"""

from __future__ import annotations

import array
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from nermo_ros.parameters import ParamSpec, defaults, merge_values


def parameter_overrides(specs: Sequence[ParamSpec], node_name: str,
                        config_path: str | Path | None = None,
                        overrides: Mapping[str, Any] | None = None) -> list:
    """rclpy ``Parameter`` objects for ``Node(parameter_overrides=...)``."""
    from rclpy.parameter import Parameter

    values = merge_values(specs, node_name, config_path, overrides)
    return [Parameter(name, value=value) for name, value in values.items()]


READ_AT_START = ("the node reads it at start; restart the node with the new value (its YAML, "
                 "or --ros-args -p NAME:=VALUE)")


def declare_parameters(node, specs: Sequence[ParamSpec],
                       why_not_now: Callable[[], str] = lambda: READ_AT_START
                       ) -> dict[str, Any]:
    """Declare every spec on ``node`` with its description; return the resulting values.

    Later changes to them are refused while ``why_not_now()`` gives a reason (by default,
    always), and otherwise checked against their range (``ParamSpec.problem``).
    """
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.exceptions import InvalidParameterTypeException

    for spec, default in zip(specs, defaults(specs).values()):
        try:
            node.declare_parameter(spec.name, default,
                                   ParameterDescriptor(description=spec.description))
        except InvalidParameterTypeException as error:  # e.g. [] for a list of numbers
            raise ValueError(f"refusing these settings: {spec.name} must be like its default "
                             f"{default!r} ({error})") from error
    node.add_on_set_parameters_callback(_change_check(specs, why_not_now))
    return parameter_values(node, specs)


def parameter_values(node, specs: Sequence[ParamSpec]) -> dict[str, Any]:
    """The node's current values of ``specs``, by name, as plain Python values."""
    return {spec.name: _plain(node.get_parameter(spec.name).value) for spec in specs}


def _plain(value: Any) -> Any:
    """rclpy hands a number array set at run time (`ros2 param set`) back as ``array.array``;
    the settings take lists."""
    return value.tolist() if isinstance(value, array.array) else value


def _change_check(specs: Sequence[ParamSpec], why_not_now: Callable[[], str]):
    """rclpy's on-set callback: refuse a change the node would not honour, saying why."""
    from rcl_interfaces.msg import SetParametersResult

    by_name = {spec.name: spec for spec in specs}

    def check(parameters) -> SetParametersResult:
        for parameter in parameters:
            spec = by_name.get(parameter.name)
            if spec is None:  # rclpy's own (use_sim_time, ...): rclpy decides
                continue
            problem = why_not_now()
            problem = (f"{spec.name} not changed: {problem.replace('NAME', spec.name)}"
                       if problem else spec.problem(_plain(parameter.value)))
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        return SetParametersResult(successful=True)

    return check
