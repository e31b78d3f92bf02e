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
    from launch_ros.actions import LifecycleNode, Node

    entities = opaque.execute(context)
    nodes = [e for e in entities if isinstance(e, Node)]
    assert [n.node_executable for n in nodes] == ["perception_node", "predictor_node"]
    assert isinstance(nodes[1], LifecycleNode) and len(entities) == 4  # + configure, activate
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


@pytest.mark.ros
@pytest.mark.slow
def test_predictor_program_runs_as_launch_starts_it_and_stops_cleanly_on_ctrl_c():
    """The installed program with --params-file and a -p override, as launch_ros runs it."""
    import os
    import signal
    import subprocess
    import time

    rclpy = pytest.importorskip("rclpy")
    import numpy as np
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import Header

    from nermo_ros.msg import HumanForecastArray, Skeleton3DArray
    from nermo_ros.nodes.msg_convert import ns_to_stamp, skeleton_array_msg
    from nermo_ros.skeleton import NUM_JOINTS

    repo = LAUNCH_FILE.parents[1]
    program = repo / "install" / "nermo_ros" / "lib" / "nermo_ros" / "predictor_node"
    if not program.exists():
        pytest.skip(f"{program} is not built (run ./nermo once)")
    domain_id = 21 + os.getpid() % 5  # domains 21-25: its own, for parallel test runs
    process = subprocess.Popen(
        [str(program), "--ros-args", "--params-file", str(repo / "config" / "predictor.yaml"),
         "-p", "predictor:=zero_velocity", "-p", "input_reliability:=reliable",
         "-p", "input_queue_depth:=10"],
        env=dict(os.environ, ROS_DOMAIN_ID=str(domain_id)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        node = rclpy.create_node("program_probe", context=context)
        answers = []
        node.create_subscription(HumanForecastArray, "human_forecast", answers.append, 10)
        publisher = node.create_publisher(Skeleton3DArray, "skeletons", 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + 30
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        pose = np.zeros((NUM_JOINTS, 3), np.float32)
        confident = np.ones(NUM_JOINTS, np.float32)
        now_ns = node.get_clock().now().nanoseconds
        for k in range(3):
            header = Header(stamp=ns_to_stamp(now_ns + k * 33_000_000), frame_id="world")
            publisher.publish(skeleton_array_msg(header, {"body_0": (pose, confident)}))
        while len(answers) < 3 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    assert len(answers) == 3, output
    assert answers[-1].forecasts[0].predictor == "zero_velocity"
    assert process.returncode == 0, output
    assert "Traceback" not in output


@pytest.mark.ros
@pytest.mark.slow
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_nermo_ros_run_stops_on_a_signal_without_a_traceback(signal_name):
    import os
    import signal
    import subprocess
    import sys
    import time

    pytest.importorskip("rclpy")
    domain_id = 26 + os.getpid() % 4  # domains 26-29
    process = subprocess.Popen(
        [sys.executable, "-m", "nermo_ros.cli", "run", "--no-perception",
         "--set", "predictor.predictor=constant_velocity",
         # diagnostics every millisecond: the signal often lands under a publishing callback
         "--set", "predictor.diagnostics_period_s=0.001"],
        env=dict(os.environ, ROS_DOMAIN_ID=str(domain_id)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    output = ""
    while "Ctrl-C stops" not in output and time.monotonic() < deadline:
        output += process.stdout.readline()
    time.sleep(1.0)  # spinning
    process.send_signal(getattr(signal, signal_name))
    rest, _ = process.communicate(timeout=20)
    output += rest
    assert "Ctrl-C stops" in output
    assert process.returncode == 0, output
    assert "Traceback" not in output and "Exception" not in output, output
