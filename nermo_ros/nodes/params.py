"""Declare a node's ROS parameters from one spec, with the YAML file's values applied.

Each node lists its parameters once (name, default, description). This module reads the
node's section of a ROS 2 parameter YAML the way `ros2 launch` does, checks names and types
(a typo in the YAML is an error that says so, not a silently ignored key), declares every
parameter with its description (so `ros2 param describe` explains it) and hands the values
back as a plain dict, so the node's logic never touches rclpy parameter objects.

A node built with this takes ``(config_path=None, overrides=None)``:

    specs = (ParamSpec("window_s", 1.0, "..."), ...)
    overrides = parameter_overrides(specs, NODE_NAME, config_path, overrides)
    super().__init__(NODE_NAME, parameter_overrides=overrides)
    settings = declare_parameters(self, specs)

With ``config_path=None`` and no overrides, values given on the command line
(``--ros-args --params-file ...``, as launch_ros passes them) still apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

# Parameters every rclpy node has already; a YAML may set them without the spec listing them.
BUILTIN_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: its default fixes its type (float, int, bool, str or a list of one)."""

    name: str
    default: Any
    description: str


def load_parameter_file(path: str | Path, node_name: str) -> dict[str, Any]:
    """Values for ``node_name`` from a ROS 2 parameter YAML: the ``/**`` section, then its own."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameter file {str(path)!r} does not exist; pass an existing "
                                f"YAML (the defaults are in the package's config/ folder)")
    document = yaml.safe_load(path.read_text()) or {}
    if not isinstance(document, dict):
        raise ValueError(f"parameter file {str(path)!r} must map node names to "
                         f"'ros__parameters', got a {type(document).__name__}")
    values: dict[str, Any] = {}
    for key in ("/**", node_name, f"/{node_name}"):
        section = document.get(key) or {}
        values.update(section.get("ros__parameters") or {})
    return values


def coerce_value(spec: ParamSpec, value: Any) -> Any:
    """``value`` as the type of ``spec.default`` (an int where a float is expected is fine)."""
    default = spec.default
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)) and default:
            item = ParamSpec(spec.name, default[0], spec.description)
            return [coerce_value(item, v) for v in value]
    raise ValueError(f"parameter {spec.name!r} must be {_type_name(default)} (like its default "
                     f"{default!r}), got {value!r}; fix the YAML file or the override")


def merge_values(specs: Sequence[ParamSpec], node_name: str, config_path: str | Path | None,
                 overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """File values, then overrides, checked against the spec; only names that were given."""
    by_name = {spec.name: spec for spec in specs}
    given: dict[str, Any] = {}
    if config_path:
        given.update(load_parameter_file(config_path, node_name))
    given.update(overrides or {})
    unknown = sorted(set(given) - set(by_name) - BUILTIN_PARAMETERS)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for node {node_name!r}; "
                         f"known: {sorted(by_name)}")
    return {name: coerce_value(by_name[name], value) if name in by_name else value
            for name, value in given.items()}


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

    values = {}
    for spec in specs:
        default = list(spec.default) if isinstance(spec.default, tuple) else spec.default
        node.declare_parameter(spec.name, default,
                               ParameterDescriptor(description=spec.description))
        values[spec.name] = node.get_parameter(spec.name).value
    return values


def specs_as_yaml(specs: Sequence[ParamSpec], node_name: str) -> dict[str, Any]:
    """The spec's defaults as a ROS 2 parameter YAML document (for config files and tests)."""
    defaults = {s.name: list(s.default) if isinstance(s.default, tuple) else s.default
                for s in specs}
    return {node_name: {"ros__parameters": defaults}}


def specs_as_markdown(specs: Sequence[ParamSpec]) -> str:
    """A Markdown table of the parameters, for docs."""
    rows = ["| parameter | default | meaning |", "|---|---|---|"]
    for spec in specs:
        default = list(spec.default) if isinstance(spec.default, tuple) else spec.default
        rows.append(f"| `{spec.name}` | `{default!r}` | {spec.description} |")
    return "\n".join(rows)


def _type_name(default: Any) -> str:
    if isinstance(default, (list, tuple)):
        return f"a list of {_type_name(default[0])[2:]}s" if default else "a list"
    return {bool: "a boolean", int: "an integer", float: "a number",
            str: "a string"}.get(type(default), f"a {type(default).__name__}")
