"""The interface packages of the planner outputs: the pip-only set-up's own builds must match the
released packages on the wire, and a ROS 2 workspace must never see them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The type hash of tf2_msgs/msg/TFMessage as the released package reports it
# (`ros2 topic info -v /tf`, Jazzy and Kilted alike): the hash covers the package, message and
# field names and types of the whole message, nested messages included.
RELEASED_TF_MESSAGE_HASH = "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087"


def test_tf_messages_carry_the_type_hash_of_the_released_tf2_msgs():
    ament_index = pytest.importorskip("ament_index_python.packages")
    share = Path(ament_index.get_package_share_directory("tf2_msgs"))
    description = json.loads((share / "msg" / "TFMessage.json").read_text())
    hashes = {entry["type_name"]: entry["hash_string"] for entry in description["type_hashes"]}
    assert hashes["tf2_msgs/msg/TFMessage"] == RELEASED_TF_MESSAGE_HASH


def test_ids_lists_and_people_have_the_released_packages_fields():
    hri_msgs = pytest.importorskip("hri_msgs.msg")
    people_msgs = pytest.importorskip("people_msgs.msg")
    assert hri_msgs.IdsList.get_fields_and_field_types() == {
        "header": "std_msgs/Header", "ids": "sequence<string>"}
    assert people_msgs.People.get_fields_and_field_types() == {
        "header": "std_msgs/Header", "people": "sequence<people_msgs/Person>"}
    assert people_msgs.Person.get_fields_and_field_types() == {
        "name": "string", "position": "geometry_msgs/Point", "velocity": "geometry_msgs/Point",
        "reliability": "double", "tagnames": "sequence<string>", "tags": "sequence<string>"}


def colcon_packages(*base_paths: Path) -> list[str]:
    colcon = Path(sys.executable).with_name("colcon")
    if not colcon.exists():
        pytest.skip("no colcon beside this Python")
    listed = subprocess.run([str(colcon), "list", "--names-only", "--base-paths",
                             *map(str, base_paths)], capture_output=True, text=True, check=True,
                            cwd=REPO)
    return sorted(listed.stdout.split())


def test_a_ros_workspace_finds_only_nermo_ros_and_the_pip_only_build_the_interfaces_too():
    assert colcon_packages(REPO) == ["nermo_ros"]
    interfaces = sorted((REPO / "interfaces").glob("*/package.xml"))
    assert colcon_packages(*(path.parent for path in interfaces)) == [
        "hri_msgs", "people_msgs", "tf2_msgs"]
