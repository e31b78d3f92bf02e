"""The ROS-free core as a GPU box gets it: `pip install .` into a prefix of its own, run from a
folder outside the checkout with only that prefix on the Python path.

config/ and models/ must come from the install's `share/nermo_ros/` (as in a colcon install),
nothing may land at the top of site-packages, the core must not import rclpy, and a verb that
needs what the core lacks says what to install instead of a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cmu_slices import CMU_DIR

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("setup.py", "nermo_ros", "config", "models")

WHERE_FROM = """
import json, sys
import nermo_ros.cli, nermo_ros.commands.train, nermo_ros.commands.evaluate
import nermo_ros.commands.export, nermo_ros.training.loop, nermo_ros.engine
from nermo_ros.checkpoint import MODELS_DIR
from nermo_ros.paths import find_package_data
from nermo_ros.training.config import load_config
print(json.dumps({
    "modules": sorted({m.__file__ for n, m in sys.modules.items()
                       if n.partition(".")[0] == "nermo_ros" and getattr(m, "__file__", None)}),
    "models": str(MODELS_DIR),
    "predictor_config": str(find_package_data("config/predictor.yaml")),
    "smoke_steps": load_config("config/train_smoke.yaml").optim.steps,
    "ros_imported": sorted(n for n in sys.modules if n.partition(".")[0] in ("rclpy", "rosidl_runtime_py")),
}))
"""


class Core:
    """A prefix holding a non-editable pip install of the package, and how to run from it."""

    def __init__(self, prefix: Path, work: Path):
        self.prefix, self.work = prefix, work
        (self.site_packages,) = prefix.glob("lib/python3*/site-packages")

    def env(self) -> dict[str, str]:
        """No checkout on any path: the prefix's code and scripts, this interpreter's packages."""
        return {"HOME": os.environ["HOME"], "LANG": "C.UTF-8",
                "PATH": f"{self.prefix / 'bin'}:{Path(sys.executable).parent}:/usr/bin:/bin",
                "PYTHONPATH": str(self.site_packages),
                "NERMO_CACHE_DIR": str(self.work / "cache")}

    def run(self, *command: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(list(command), env=self.env(), cwd=self.work, capture_output=True,
                              text=True, timeout=timeout)


@pytest.fixture(scope="module")
def core(tmp_path_factory) -> Core:
    base = tmp_path_factory.mktemp("pip")
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(REPO / name, source / name)
    prefix = base / "prefix"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--prefix", str(prefix), str(source)],
        capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-4000:]
    (base / "work").mkdir()
    return Core(prefix, base / "work")


def test_code_config_and_models_come_from_the_prefix_and_rclpy_stays_out(core):
    result = core.run(sys.executable, "-c", WHERE_FROM)
    assert result.returncode == 0, result.stderr[-4000:]
    where = json.loads(result.stdout)
    assert where["modules"] and all(Path(f).is_relative_to(core.site_packages)
                                    for f in where["modules"]), where["modules"]
    share = core.prefix / "share" / "nermo_ros"
    assert Path(where["models"]) == share / "models"
    assert Path(where["predictor_config"]) == share / "config" / "predictor.yaml"
    assert where["smoke_steps"] > 0  # a config named as in the docs, found in the install
    assert where["ros_imported"] == []
    assert sorted(p.name for p in (share / "models").iterdir()) == sorted(
        p.name for p in (REPO / "models").iterdir())
    top = {p.name for p in core.site_packages.iterdir()}
    assert not top & {"config", "models"}, "package data landed at the top of site-packages"


def test_the_installed_command_exports_the_shipped_default_model_with_parity(core):
    out = core.work / "onnx"
    result = core.run("nermo-ros", "export", "--steps", "1", "--buckets", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr[-4000:]
    assert [p.name for p in out.glob("*.onnx")], result.stdout
    assert "max |difference| to eager" in result.stdout and " ok" in result.stdout


def test_a_verb_that_needs_ros_says_what_to_set_up(core):
    """This interpreter has rclpy, so a package named rclpy, first on the path, stands in for
    its absence: importing it fails as a missing module does."""
    shadow = core.work / "no_ros"
    (shadow / "rclpy").mkdir(parents=True, exist_ok=True)
    (shadow / "rclpy" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'rclpy'\", name='rclpy')\n")
    env = core.env() | {"PYTHONPATH": f"{shadow}:{core.site_packages}"}
    result = subprocess.run(["nermo-ros", "demo", "--duration", "1"], env=env, cwd=core.work,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "needs the module 'rclpy'" in result.stderr and "./nermo" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.shared_data
@pytest.mark.skipif(not (CMU_DIR / "train").is_dir(), reason="CMU mocap data not present")
def test_the_installed_command_trains_from_a_config_named_as_the_docs_do(core):
    result = core.run("nermo-ros", "train", "--config", "config/train_smoke.yaml", "--data",
                      str(CMU_DIR), "--steps", "2", "--device", "cpu", "--out", "run")
    assert result.returncode == 0, result.stderr[-4000:]
    assert (core.work / "run" / "final.pt").stat().st_size > 0
