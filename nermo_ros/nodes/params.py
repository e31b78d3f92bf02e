"""Declare a node's ROS parameters from its table (``nermo_ros.parameters``), YAML applied.

A node built with this takes ``(config_path=None, overrides=None)``:

    overrides = parameter_overrides(specs, NODE_NAME, config_path, overrides)
    super().__init__(NODE_NAME, parameter_overrides=overrides)
    values = declare_parameters(self, specs)

Every parameter is declared with its description (so `ros2 param describe` explains it) and
the values come back as a plain dict, so the node's logic never touches rclpy parameter
objects. With ``config_path=None`` and no overrides, values given on the command line
(``--ros-args --params-file ...``, as launch_ros passes them) still apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from nermo_ros.parameters import ParamSpec, defaults, merge_values


def parameter_overrides(specs: Sequence[ParamSpec], node_name: str,
                        config_path: str | Path | None = None,
                        overrides: Mapping[str, Any] | None = None) -> list:
    """rclpy ``Parameter`` objects for ``Node(parameter_overrides=...)``."""
    from rclpy.parameter import Parameter

    values = merge_values(specs, node_name, config_path, overrides)
    return [Parameter(name, value=value) for name, value in values.items()]


def declare_parameters(node, specs: Sequence[ParamSpec]) -> dict[str, Any]:
    """Declare every spec on ``node`` with its description; return the resulting values."""
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.exceptions import InvalidParameterTypeException

    values = {}
    for spec, default in zip(specs, defaults(specs).values()):
        try:
            node.declare_parameter(spec.name, default,
                                   ParameterDescriptor(description=spec.description))
        except InvalidParameterTypeException as error:  # e.g. [] for a list of numbers
            raise ValueError(f"refusing these settings: {spec.name} must be like its default "
                             f"{default!r} ({error})") from error
        values[spec.name] = node.get_parameter(spec.name).value
    return values
