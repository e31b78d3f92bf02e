"""Where the package's data folders (config/, models/) are: the source tree or a colcon install.

In a checkout they sit beside `nermo_ros/`; after `colcon build` they are installed to
`<prefix>/share/nermo_ros/`, found through AMENT_PREFIX_PATH.
"""

from __future__ import annotations

import os
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def package_data_candidates(relative: str) -> list[Path]:
    """Every place ``relative`` (e.g. "models" or "config/predictor.yaml") may be, in order."""
    candidates = [SOURCE_ROOT / relative]
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        candidates.append(Path(prefix) / "share" / "nermo_ros" / relative)
    return candidates


def find_package_data(relative: str) -> Path | None:
    """The first existing candidate, or None."""
    return next((c for c in package_data_candidates(relative) if c.exists()), None)
