"""A checkpoint's calibrations on disk: ``<checkpoint>.calibration.json`` beside it, one
calibration per number of adaptation steps and mirror-average choice (the forecasts, and so
the errors, change with them), keyed by the checkpoint's model id: a file made for another
model is refused, never used.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from nermo_ros.forecasting.calibration import Calibration

FORMAT = "nermo_ros.calibration/1"


def sidecar_path(checkpoint: str | Path) -> Path:
    """models/nermo_body17.pt -> models/nermo_body17.calibration.json."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".calibration.json")


def save_calibrations(path: str | Path, model_id: str,
                      calibrations: list[Calibration]) -> None:
    """One file of a model's calibrations (one per adaptation steps and mirror choice)."""
    document = {"format": FORMAT, "model_id": model_id,
                "calibrations": [c.to_dict() for c in calibrations]}
    Path(path).write_text(json.dumps(document, indent=1) + "\n")


@lru_cache(maxsize=8)
def _read(path: str, modified_ns: int) -> tuple[str, tuple[Calibration, ...]]:
    try:
        document = json.loads(Path(path).read_text())
        if document.get("format") != FORMAT:
            raise ValueError(f"format {document.get('format')!r} is not {FORMAT!r}")
        return document["model_id"], tuple(Calibration.from_dict(c)
                                           for c in document["calibrations"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path} is not a readable calibration ({type(error).__name__}: "
                         f"{error}); recalibrate with `nermo-ros calibrate` or delete it"
                         ) from error


def load_calibrations(path: str | Path, model_id: str) -> tuple[Calibration, ...]:
    """The calibrations in ``path``, refused (ValueError) unless made for ``model_id``."""
    path = Path(path)
    file_model, calibrations = _read(str(path), path.stat().st_mtime_ns)
    if file_model != model_id:
        raise ValueError(f"{path} calibrates model {file_model!r}, not the checkpoint's model "
                         f"{model_id!r}: its radii would not hold their coverage; run "
                         f"`nermo-ros calibrate --checkpoint <the checkpoint>` to make one for "
                         f"this model, or delete the file to publish an uncalibrated radius")
    return calibrations


def merged(earlier: tuple[Calibration, ...], new: list[Calibration]) -> list[Calibration]:
    """``new`` plus the ``earlier`` calibrations of other (steps, mirror, hold) choices, so that
    calibrating one choice keeps the file's others."""
    made = {_choice(c) for c in new}
    return [c for c in earlier if _choice(c) not in made] + list(new)


def _choice(c: Calibration) -> tuple:
    return c.num_adapt_steps, c.mirror_average, c.report_hold, c.level_body


def for_adaptation(calibrations: tuple[Calibration, ...], num_adapt_steps: int,
                   mirror_average: bool,
                   report_hold: tuple[float, float] = (0.0, 0.0),
                   level_body: bool = False) -> Calibration | None:
    """The calibration made with this many adaptation steps, this mirror-average choice, this
    hold of the newest report (``report_hold.hold_key``) and this levelling of the body (all
    four change the forecasts, and so their errors), if any."""
    wanted = (num_adapt_steps, mirror_average, report_hold, bool(level_body))
    return next((c for c in calibrations if _choice(c) == wanted), None)
