#!/usr/bin/env python3
"""Copy recipe runs' newest finished stages as 16-bit weights for the next machine.

  scripts/carry_weights.py RUNS_DIR DEST_DIR [STAGE]
e.g. scripts/carry_weights.py runs/recipe "$OUT"   (every run folder under runs/recipe)
STAGE (1-based) carries that stage instead of the newest, e.g. the one an arm of the recipe
will start from (`nermo-ros train --shared-stages-from`) once the base has gone past it.

A machine lent in slices gives back a few files of limited size: a protocol run's finished
stage is 3.3 MB this way against 6.5 MB in 32 bits and about 20 MB with the optimiser's
state; one file a run, two folders down (DEST_DIR/<run>/<nn>_<stage>/final.pt). Copy DEST_DIR
back to RUNS_DIR on the next machine and run the same `nermo-ros train --recipe` (or
scripts/train_stages.sh) command: it goes on with the next stage, or writes the run's final.pt
when that was the last. Stop slices at a stage's end (`--last-stage`) so no stage is half done.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nermo_ros.training.recipe import carry_weights, finished_stage_pattern  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or (len(argv) == 3 and not argv[2].isdigit()):
        print(__doc__, file=sys.stderr)
        return 2
    runs, dest = Path(argv[0]), Path(argv[1])
    stage = int(argv[2]) if len(argv) == 3 else 0
    folders = sorted({p.parent.parent for p in runs.glob("*/" + finished_stage_pattern(stage))})
    if not folders:
        which = f"stage {stage}" if stage else "a finished stage"
        print(f"{runs} holds no recipe run with {which}", file=sys.stderr)
        return 1
    for run in folders:
        path = carry_weights(run, dest / run.name, stage)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
