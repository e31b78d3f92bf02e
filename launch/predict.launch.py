"""Perception and predictor nodes with the YAML config: `ros2 launch nermo_ros predict.launch.py`.

Arguments (all optional):
  input:=0 | input:=/dev/video0 | input:=walk.mp4 | input:=/camera/image_raw
      a camera, a video file or a sensor_msgs/Image topic (default: the perception config's)
  predictor:=nermo|constant_velocity|zero_velocity   backend:=auto|tensorrt|onnxruntime|...
  predictor_config:=FILE  perception_config:=FILE    (default: the installed config/ files)
The predictor is respawned if it exits. `nermo-ros run` starts the same nodes in one process
where `ros2 launch` is not installed.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from nermo_ros.nodes.bringup import input_overrides

RESPAWN_DELAY_S = 2.0


def _config(name: str) -> str:
    return os.path.join(get_package_share_directory("nermo_ros"), "config", name)


ARGUMENTS = (
    ("input", "", "camera number or /dev/videoN, video file, or image topic; empty: the "
                  "perception config's image_topic"),
    ("predictor", "", "nermo, constant_velocity or zero_velocity; empty: the config's"),
    ("backend", "", "NeRMo backend (auto, tensorrt, cudagraph, inductor, onnxruntime, torch); "
                    "empty: the config's"),
    ("predictor_config", "", "predictor parameter YAML; empty: the installed default"),
    ("perception_config", "", "perception parameter YAML; empty: the installed default"),
)


def _nodes(context):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    predictor_overrides = {key: value[key] for key in ("predictor", "backend") if value[key]}
    perception = Node(
        package="nermo_ros", executable="perception_node", output="screen",
        parameters=[value["perception_config"] or _config("perception.yaml"),
                    input_overrides(value["input"])])
    predictor = Node(
        package="nermo_ros", executable="predictor_node", output="screen",
        parameters=[value["predictor_config"] or _config("predictor.yaml"), predictor_overrides],
        respawn=True, respawn_delay=RESPAWN_DELAY_S)
    return [perception, predictor]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=_nodes)])
