"""launch/predict.launch.py, where launch_ros is installed (a ROS 2 distribution)."""

import importlib.util
from pathlib import Path

import pytest

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "predict.launch.py"


def load_launch_module():
    pytest.importorskip("launch_ros", reason="launch_ros is not installed (it ships with a ROS 2 "
                                              "distribution, not on PyPI); `nermo-ros run` "
                                              "starts the same nodes without it")
    spec = importlib.util.spec_from_file_location("predict_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_file_declares_its_arguments_and_starts_both_nodes_with_respawn():
    module = load_launch_module()
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    description = module.generate_launch_description()
    declared = {a.name for a in description.entities if isinstance(a, DeclareLaunchArgument)}
    assert declared == {"input", "predictor", "backend", "predictor_config",
                        "perception_config"}
    context = LaunchContext()
    context.launch_configurations.update({"input": "3", "predictor": "zero_velocity",
                                          "backend": "", "predictor_config": "",
                                          "perception_config": ""})
    (opaque,) = [a for a in description.entities if isinstance(a, OpaqueFunction)]
    nodes = opaque.execute(context)
    assert [n.node_executable for n in nodes] == ["perception_node", "predictor_node"]
    assert all(n.node_package == "nermo_ros" for n in nodes)
    assert module.input_overrides("3") == {"camera_device": 3}


def test_input_argument_picks_camera_video_or_topic(tmp_path):
    from nermo_ros.nodes.bringup import input_overrides

    video = tmp_path / "walk.mp4"
    video.write_bytes(b"not really a video")
    assert input_overrides("0") == {"camera_device": 0}
    assert input_overrides("/dev/video2") == {"camera_device": 2}
    assert input_overrides(str(video)) == {"video_path": str(video.resolve())}
    assert input_overrides("/camera/color/image_raw") == {"image_topic": "/camera/color/image_raw"}
    assert input_overrides("") == {}
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        input_overrides(str(tmp_path / "missing.mp4"))
