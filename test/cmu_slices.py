"""Small temporary copies of the CMU mocap training data for end-to-end command tests."""

import gzip
import os
from pathlib import Path

CMU_DIR = Path(os.environ.get("NERMO_CMU_DIR",
                              Path(__file__).resolve().parents[1].parent / "shared/data/cmu_mocap"))


def tiny_slice(dest: Path, actions=("basketball", "walking"), lines: int = 300) -> Path:
    """The first ``lines`` frames of trial 1 of each action (a temporary copy, never committed)."""
    for action in actions:
        src = CMU_DIR / "train" / action / f"{action}_1.txt.gz"
        (dest / action).mkdir(parents=True)
        with gzip.open(src, "rt") as f:
            head = [next(f) for _ in range(lines)]
        (dest / action / f"{action}_1.txt").write_text("".join(head))
    return dest
