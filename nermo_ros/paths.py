"""Where the package's data folders (config/, models/) are: the source tree or a colcon install.

In a checkout they sit beside `nermo_ros/`; after `colcon build` they are installed to
`<prefix>/share/nermo_ros/`. That prefix is the one this module was installed into, or any
on AMENT_PREFIX_PATH (`source install/setup.bash` sets it).
"""

from __future__ import annotations

import os
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]
_SITE_DIR_NAMES = ("site-packages", "dist-packages")


def install_prefix_of(package_dir: Path) -> Path | None:
    """The prefix of a package installed as `<prefix>/lib/pythonX.Y/site-packages/<package>`.

    None for any other layout, such as a checkout. The path is taken as it is, not resolved:
    a --symlink-install links each file back to the source tree.
    """
    site_dir = package_dir.parent
    if site_dir.name not in _SITE_DIR_NAMES or len(site_dir.parents) < 3:
        return None
    return site_dir.parents[2]


def package_data_candidates(relative: str) -> list[Path]:
    """Every place ``relative`` (e.g. "models" or "config/predictor.yaml") may be, in order."""
    prefixes = [install_prefix_of(Path(os.path.abspath(__file__)).parent)]
    prefixes += [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    candidates = [SOURCE_ROOT / relative]
    for prefix in filter(None, prefixes):
        candidate = prefix / "share" / "nermo_ros" / relative
        if candidate not in candidates:
            candidates.append(candidate)
    return candidates


def find_package_data(relative: str) -> Path | None:
    """The first existing candidate, or None."""
    return next((c for c in package_data_candidates(relative) if c.exists()), None)


def existing_or_packaged(path: str | Path, what: str, hint: str = "") -> Path:
    """``path`` if it exists; else, for a relative one such as "config/train_cmu25.yaml", the
    package's own copy (an install has config/ under share/nermo_ros/, not in the working
    directory). FileNotFoundError, naming every place looked and ending with ``hint``, when
    neither exists."""
    path = Path(path)
    if path.is_file():
        return path
    looked = [str(path.absolute())]
    if not path.is_absolute():
        packaged = find_package_data(path.as_posix())
        if packaged is not None and packaged.is_file():
            return packaged
        looked += [str(c) for c in package_data_candidates(path.as_posix())]
    raise FileNotFoundError(f"{what} {path} does not exist (looked in {', '.join(looked)}){hint}")
