"""Parameters from one table: name, default, description and allowed range, no rclpy.

Each node lists its parameters once as ``ParamSpec``s. From that table come the node's ROS
declarations (``nodes/params.py``), the YAML defaults in config/, the docs' tables, and the
settings the pure code reads. This module reads the node's section of a ROS 2 parameter YAML
the way `ros2 launch` does, checks names and types (a typo in the YAML is an error that says
so, not a silently ignored key) and checks every value against its range, so a setting that
cannot be honoured is refused at start with the value and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import yaml

# Parameters every rclpy node has already; a YAML may set them without the spec listing them.
BUILTIN_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})


# A range check: None when the value is allowed, else what is wrong with it (a phrase).
Check = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: its default fixes its type (float, int, bool, str or a list of one);
    ``check`` says whether a value is in range (see ``at_least``, ``between``, ``one_of``)."""

    name: str
    default: Any
    description: str
    check: Check | None = None

    def problem(self, value: Any) -> str | None:
        """None if ``value`` is allowed, else a sentence naming the parameter and the value."""
        issue = self.check(value) if self.check is not None else None
        return f"{self.name}={value!r} {issue}" if issue else None


def at_least(low: float, inclusive: bool = True) -> Check:
    def check(value):
        ok = value >= low if inclusive else value > low
        return None if ok else f"must be {'>=' if inclusive else '>'} {low}"
    return check


def between(low: float, high: float) -> Check:
    def check(value):
        return None if low <= value <= high else f"must be in [{low}, {high}]"
    return check


def joint_distances(names: tuple[str, ...]) -> Check:
    """Distances in metres: one for every joint, or one per joint of ``names``, each >= 0."""
    def check(values):
        if len(values) not in (1, len(names)) or min(values) < 0:
            return (f"must be 1 value or {len(names)} (one per joint: {', '.join(names)}), "
                    f"each >= 0")
        return None
    return check


def one_of(*choices: str) -> Check:
    def check(value):
        return None if value in choices else f"must be one of {', '.join(choices)}"
    return check


def increasing_positive(values) -> str | None:
    array = np.asarray(values, dtype=float)
    if array.size == 0 or (array <= 0).any() or (np.diff(array) <= 0).any():
        return "must be a non-empty list, increasing and > 0"
    return None


def check_values(specs: Sequence[ParamSpec], values: Mapping[str, Any]) -> None:
    """Raise one ValueError listing every value out of its range (all at once, not the first)."""
    problems = [problem for spec in specs if spec.name in values
                and (problem := spec.problem(values[spec.name])) is not None]
    if problems:
        raise ValueError("refusing these settings: " + "; ".join(problems))


def defaults(specs: Sequence[ParamSpec]) -> dict[str, Any]:
    """name -> default (lists as lists)."""
    return {s.name: list(s.default) if isinstance(s.default, tuple) else s.default
            for s in specs}


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


def specs_as_yaml(specs: Sequence[ParamSpec], node_name: str) -> dict[str, Any]:
    """The spec's defaults as a ROS 2 parameter YAML document (for config files and tests)."""
    return {node_name: {"ros__parameters": defaults(specs)}}


def specs_as_markdown(specs: Sequence[ParamSpec]) -> str:
    """A Markdown table of the parameters, for docs."""
    rows = ["| parameter | default | meaning |", "|---|---|---|"]
    for spec, default in zip(specs, defaults(specs).values()):
        rows.append(f"| `{spec.name}` | `{default!r}` | {spec.description} |")
    return "\n".join(rows)


def _type_name(default: Any) -> str:
    if isinstance(default, (list, tuple)):
        return f"a list of {_type_name(default[0])[2:]}s" if default else "a list"
    return {bool: "a boolean", int: "an integer", float: "a number",
            str: "a string"}.get(type(default), f"a {type(default).__name__}")
