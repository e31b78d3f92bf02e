"""pip install of the ROS-free core (model, training, evaluation, engine, bag tools) and the
`nermo-ros` command. The ROS 2 interfaces and nodes are built with colcon (CMakeLists.txt).

config/ and models/ go to `<prefix>/share/nermo_ros/`, where colcon puts them too, so both kinds
of install find them the same way (nermo_ros/paths.py) and nothing lands in site-packages' top.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def share(folder: str, pattern: str) -> tuple[str, list[str]]:
    """``folder``'s files matching ``pattern``, for `<prefix>/share/nermo_ros/<folder>`."""
    files = sorted(str(p.relative_to(HERE)) for p in (HERE / folder).glob(pattern) if p.is_file())
    return f"share/nermo_ros/{folder}", files


setup(
    name="nermo_ros",
    version="0.1.0",
    description="Real-time human motion forecasting (NeRMo) for ROS 2",
    python_requires=">=3.10",
    packages=find_packages(include=["nermo_ros", "nermo_ros.*"]),
    data_files=[share("config", "*.yaml"), share("models", "*")],
    install_requires=["numpy>=1.24", "torch>=2.3", "pyyaml>=6"],
    extras_require={
        "export": ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1"],
        "bag": ["rosbags>=0.10"],
        "perception": ["mediapipe==0.10.21"],
        "plots": ["matplotlib>=3.7"],
    },
    entry_points={"console_scripts": ["nermo-ros=nermo_ros.cli:main"]},
)
