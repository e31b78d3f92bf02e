"""Real videos of people that ship inside pinned PyPI packages, found without importing them.

No video is kept in this repository. ``requirements-media.txt`` pins the packages that carry
them and ``scripts/setup.sh`` installs those without their dependencies: we only read files
from them, never run their code.

- ``single``: Pose2Sim's single-person demo, camera 1: a man in shorts moving on a force
  platform in a lab, filmed upright at 60 fps (1080 x 1920, 100 frames). A second person
  stands back by the wall; MediaPipe does not report her.
- ``several``: Sports2D's demo: outdoors at 30 fps (1768 x 994, 230 frames), a man stands on
  a concrete box, jumps down and walks off while a woman walks across the view.

- ``lab_4views`` (``MULTIVIEWS``): the ``single`` scene from all four of its cameras, with
  their calibration: a multi-view 3D reference for one camera's skeletons
  (``perception/reference.py``).

(Pose2Sim's two-person demo is not used: its second person is a rendered figure.)
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedVideo:
    name: str
    package: str        # the import name of the package that ships it
    distribution: str   # what pip installs (pinned in requirements-media.txt)
    relative_path: str  # inside the package's folder
    people: str         # who is in it, for reports

    def path(self) -> Path | None:
        """The file, or None when the package is not installed."""
        return packaged_file(self.package, self.relative_path)

    def require(self) -> Path:
        path = self.path()
        if path is None:
            raise FileNotFoundError(
                f"video {self.name!r} ships in the {self.distribution} package, which is not "
                f"installed; run scripts/setup.sh (it installs requirements-media.txt)")
        return path


def packaged_file(package: str, relative_path: str) -> Path | None:
    """A file inside an installed package's folder, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / relative_path
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class PackagedMultiView:
    """Views of one scene from calibrated cameras, with their calibration, in one package."""

    name: str
    package: str
    distribution: str
    folder: str                # inside the package's folder
    views: tuple[str, ...]     # video files inside ``folder``
    calibration: str           # a Qualisys .qca calibration inside ``folder``
    people: str

    def require(self) -> tuple[tuple[Path, ...], Path]:
        """(the videos in order, the calibration file)."""
        paths = [packaged_file(self.package, f"{self.folder}/{name}")
                 for name in (*self.views, self.calibration)]
        if any(path is None for path in paths):
            raise FileNotFoundError(
                f"views {self.name!r} ship in the {self.distribution} package, which is not "
                f"installed; run scripts/setup.sh (it installs requirements-media.txt)")
        return tuple(paths[:-1]), paths[-1]


VIDEOS = {v.name: v for v in (
    PackagedVideo("single", "Pose2Sim", "pose2sim",
                  "Demo_SinglePerson/videos/cam01.mp4", "1 person"),
    PackagedVideo("several", "Sports2D", "sports2d", "Demo/demo.mp4",
                  "2 people (1 in the first 2 s)"),
)}


# ``lab_4views``: the ``single`` scene from all four of its cameras (their calibration ships
# beside them), 100 frames each at 60 fps.
MULTIVIEWS = {m.name: m for m in (
    PackagedMultiView("lab_4views", "Pose2Sim", "pose2sim", "Demo_SinglePerson",
                      tuple(f"videos/cam0{k}.mp4" for k in range(1, 5)),
                      "calibration/Calib.qca.txt", "1 person"),
)}


def video_path(name_or_path: str) -> Path:
    """A packaged video by name (``single``, ``several``) or any video file path."""
    if name_or_path in VIDEOS:
        return VIDEOS[name_or_path].require()
    path = Path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"{name_or_path!r} is neither a packaged video "
                                f"({', '.join(VIDEOS)}) nor a file")
    return path
