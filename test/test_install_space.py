"""The package as a ROS user gets it: a colcon install, copied (no --symlink-install), on its own.

The pip-only set-up puts the source tree first on PYTHONPATH, which hides whatever the install
leaves out. These tests build into a temporary folder and run everything from there, in the
environment `source install/setup.bash` gives, from a working directory outside the checkout.
The venv stands in for /opt/ros/<distro>: its prefix is the underlay and its Python is on PATH.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from nermo_ros.paths import install_prefix_of

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
BUILD_TIMEOUT_S = 900
# The node compiles its ONNX graphs at start (about a minute) unless setup already cached them.
NODE_START_TIMEOUT_S = 300
DOMAIN_ID = 140 + os.getpid() % 60  # its own domain, for parallel test runs

# Imports what the installed programs import, then says where each module and data folder came
# from and what sys.path held.
WHERE_FROM = """
import json, sys
import nermo_ros.msg
from nermo_ros.engine import make_engine
from nermo_ros.msg import HumanForecastArray, Skeleton3DArray
import nermo_ros.cli, nermo_ros.commands.bench, nermo_ros.commands.export
import nermo_ros.nodes.predictor_node, nermo_ros.nodes.perception_node
from nermo_ros.checkpoint import MODELS_DIR
from nermo_ros.paths import find_package_data
print(json.dumps({
    "modules": {name: module.__file__ for name, module in sys.modules.items()
                if name.partition(".")[0] == "nermo_ros" and getattr(module, "__file__", None)},
    "models": str(MODELS_DIR),
    "predictor_config": str(find_package_data("config/predictor.yaml")),
    "sys_path": sys.path,
}))
"""


@dataclass(frozen=True)
class Install:
    """A colcon install folder and the package's source files when it was built."""

    root: Path
    source_files: tuple[Path, ...]

    @property
    def prefix(self) -> Path:
        return self.root / "nermo_ros"

    @property
    def site_packages(self) -> Path:
        (found,) = self.prefix.glob("lib/python3*/site-packages")
        return found

    @property
    def share(self) -> Path:
        return self.prefix / "share" / "nermo_ros"


def user_environment() -> dict[str, str]:
    """A scrubbed environment: no PYTHONPATH, no checkout; the underlay and DDS settings only."""
    venv = VENV.resolve()
    env = {"HOME": os.environ["HOME"], "LANG": "C.UTF-8", "PATH": f"{venv}/bin:/usr/bin:/bin",
           "AMENT_PREFIX_PATH": str(venv), "ROS_DOMAIN_ID": str(DOMAIN_ID),
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    for name in ("NERMO_CACHE_DIR", "RMW_IMPLEMENTATION"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def sourced(install: Install, *command: str) -> list[str]:
    """``command`` run after `source install/setup.bash`, as a ROS user runs it."""
    return ["bash", "-c", f'source "{install.root}/setup.bash" && exec "$@"', "bash", *command]


def run_sourced(install: Install, *command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(sourced(install, *command), env=user_environment(), cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Install:
    """One copied build of the package, shared by this module's tests (about a minute)."""
    if not (VENV / "bin" / "python").exists():
        pytest.skip(f"no venv at {VENV}; run scripts/setup.sh")
    if not (VENV / "bin" / "colcon").exists():
        pytest.skip(f"colcon is not installed in {VENV}; run scripts/setup.sh")
    base = tmp_path_factory.mktemp("colcon")
    source_files = tuple(sorted(path.relative_to(REPO / "nermo_ros")
                                for path in (REPO / "nermo_ros").rglob("*.py")
                                if "__pycache__" not in path.parts))
    build = subprocess.run([str(REPO / "scripts" / "colcon_build.sh"), str(base)],
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert build.returncode == 0, build.stderr[-8000:]
    return Install(base / "install", source_files)


def test_install_prefix_is_read_from_an_installed_layout_only(tmp_path):
    site_packages = tmp_path / "lib" / "python3.11" / "site-packages"
    assert install_prefix_of(site_packages / "nermo_ros") == tmp_path
    assert install_prefix_of(tmp_path / "lib" / "python3" / "dist-packages" / "nermo_ros") == tmp_path
    assert install_prefix_of(REPO / "nermo_ros") is None


@pytest.mark.ros
@pytest.mark.slow
def test_every_module_and_subpackage_init_is_installed_and_rosidl_owns_the_top_init(install):
    installed = install.site_packages / "nermo_ros"
    missing = [str(f) for f in install.source_files
               if f != Path("__init__.py") and not (installed / f).is_file()]
    assert not missing, f"not installed: {missing}"
    assert (installed / "__init__.py").is_file()
    assert (installed / "msg" / "__init__.py").is_file()
    assert not any(path.is_symlink() for path in installed.rglob("*.py"))


@pytest.mark.ros
@pytest.mark.slow
def test_code_config_and_models_come_from_the_install_alone(install, tmp_path):
    result = run_sourced(install, "python3", "-c", WHERE_FROM, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-8000:]
    found = json.loads(result.stdout.splitlines()[-1])
    elsewhere = {name: file for name, file in found["modules"].items()
                 if not is_inside(Path(file), install.site_packages)}
    assert not elsewhere, f"imported from outside {install.site_packages}: {elsewhere}"
    assert "nermo_ros.engine.engine" in found["modules"]
    assert Path(found["models"]) == install.share / "models"
    assert Path(found["predictor_config"]) == install.share / "config" / "predictor.yaml"
    on_path = [p for p in found["sys_path"] if p and is_inside(Path(p).resolve(), REPO)]
    assert not on_path, f"the checkout is on sys.path: {on_path}"


@pytest.mark.ros
@pytest.mark.slow
def test_nermo_ros_command_is_installed_and_its_engine_verbs_start(install, tmp_path):
    located = run_sourced(install, "bash", "-c", "command -v nermo-ros", cwd=tmp_path)
    assert Path(located.stdout.strip()) == install.prefix / "bin" / "nermo-ros"
    for verb in ("bench", "export"):
        result = run_sourced(install, "nermo-ros", verb, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-8000:]
        assert result.stdout.startswith(f"usage: nermo-ros {verb}")


def first_backend_report(process: subprocess.Popen, rclpy) -> str | None:
    """The `backend` value of the predictor's first /diagnostics status that names one."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    try:
        node = rclpy.create_node("install_space_probe", context=context)
        backends: list[str] = []

        def on_diagnostics(msg: DiagnosticArray) -> None:
            for status in msg.status:
                values = {kv.key: kv.value for kv in status.values}
                if status.name.startswith("predictor") and values.get("backend"):
                    backends.append(values["backend"])

        node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while not backends and process.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    return backends[0] if backends else None


@pytest.mark.ros
@pytest.mark.slow
def test_installed_predictor_node_runs_the_compiled_backend_it_was_asked_for(
        install, tmp_path, monkeypatch):
    """Eager torch here would mean the engine did not load from the install (a 4x slowdown)."""
    rclpy = pytest.importorskip("rclpy")
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    program = install.prefix / "lib" / "nermo_ros" / "predictor_node"
    process = subprocess.Popen(
        sourced(install, str(program), "--ros-args",
                "--params-file", str(install.share / "config" / "predictor.yaml"),
                "-p", "backend:=onnxruntime"),
        env=user_environment(), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        backend = first_backend_report(process, rclpy)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert backend is not None, f"no backend on /diagnostics; node output:\n{output[-8000:]}"
    assert backend.startswith("onnxruntime"), f"{backend!r}; node output:\n{output[-8000:]}"
    assert process.returncode == 0, output[-8000:]
    assert "Traceback" not in output
