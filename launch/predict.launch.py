"""Perception and predictor nodes with the YAML config: `ros2 launch nermo_ros predict.launch.py`.

Arguments (all optional):
  input:=0 | input:=/dev/video0 | input:=walk.mp4 | input:=/camera/image_raw
      a camera, a video file or a sensor_msgs/Image topic (default: the perception config's)
  predictor:=nermo|constant_velocity|zero_velocity   backend:=auto|tensorrt|onnxruntime|...
  predictor_config:=FILE  perception_config:=FILE    (default: the installed config/ files)
The predictor is a managed (lifecycle) node: this file configures it (load and compile the
model) each time its process starts, and activates it once configured. It is respawned if it
exits. `nermo-ros run` starts the same nodes in one process, and brings the predictor up the
same way, where `ros2 launch` is not installed.
"""

import os

from ament_index_python.packages import get_package_share_directory
import lifecycle_msgs.msg
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessStart
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState

from nermo_ros.nodes.bringup import camera_input_error, input_overrides

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
    predictor_config = value["predictor_config"] or _config("predictor.yaml")
    perception_config = value["perception_config"] or _config("perception.yaml")
    predictor_overrides = {key: value[key] for key in ("predictor", "backend") if value[key]}
    perception_overrides = input_overrides(value["input"])
    # The predictor's radius then covers the person, not the camera's account of them.
    predictor_overrides = {**camera_input_error(predictor_config, predictor_overrides,
                                                perception_config, perception_overrides),
                           **predictor_overrides}
    perception = Node(
        package="nermo_ros", executable="perception_node", output="screen",
        parameters=[perception_config, perception_overrides])
    predictor = LifecycleNode(
        package="nermo_ros", executable="predictor_node", name="predictor", namespace="",
        output="screen", arguments=["--managed"],
        parameters=[predictor_config, predictor_overrides],
        respawn=True, respawn_delay=RESPAWN_DELAY_S)
    return [perception, predictor, *_bring_up(predictor)]


def _transition(node: LifecycleNode, transition_id: int) -> EmitEvent:
    return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                       transition_id=transition_id))


def _bring_up(node: LifecycleNode) -> list:
    """Configure the node whenever its process starts (respawns too); activate once configured."""
    transition = lifecycle_msgs.msg.Transition
    return [
        RegisterEventHandler(OnProcessStart(
            target_action=node,
            on_start=[_transition(node, transition.TRANSITION_CONFIGURE)])),
        RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, goal_state="inactive",
            entities=[_transition(node, transition.TRANSITION_ACTIVATE)])),
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=_nodes)])
