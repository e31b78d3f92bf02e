"""The rosbags type store: standard ROS 2 messages plus this project's own ``msg/*.msg``.

Bags are read and written without a ROS 2 installation, so the project's message definitions
are parsed from the ``.msg`` files (the source tree's ``msg/``, else an installed package's
``share/nermo_ros/msg``) and registered next to the ROS 2 Kilted standard types.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PACKAGE = "nermo_ros"
SKELETON_ARRAY = f"{PACKAGE}/msg/Skeleton3DArray"
SKELETON = f"{PACKAGE}/msg/Skeleton3D"
FORECAST_ARRAY = f"{PACKAGE}/msg/HumanForecastArray"
FORECAST = f"{PACKAGE}/msg/HumanForecast"
MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"
MARKER = "visualization_msgs/msg/Marker"
POSE_ARRAY = "geometry_msgs/msg/PoseArray"
CLOCK = "rosgraph_msgs/msg/Clock"


def msg_dir() -> Path:
    """The folder with the project's .msg files."""
    candidates = [Path(__file__).resolve().parents[2] / "msg"]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / PACKAGE / "msg")
    for candidate in candidates:
        if (candidate / "Skeleton3D.msg").is_file():
            return candidate
    raise FileNotFoundError(
        f"cannot find the {PACKAGE} message definitions (Skeleton3D.msg) in "
        f"{', '.join(map(str, candidates))}; run from the source tree or source the install")


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """ROS 2 Kilted types plus nermo_ros/msg/*; one shared instance."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted(msg_dir().glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store


def message_type(name: str):
    """The rosbags message class of a type name like ``nermo_ros/msg/Skeleton3D``."""
    return typestore().types[name]
