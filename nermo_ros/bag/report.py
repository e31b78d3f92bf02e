"""Write an evaluation as JSON (everything), CSV (per horizon, per joint) and a PNG plot."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nermo_ros.bag.metrics import Scores
from nermo_ros.stats import percentiles_ms
from nermo_ros.skeleton import JOINT_NAMES


@dataclass
class Evaluation:
    """One evaluation run: what was run on what, its scores, latency and any bag problems."""

    bag: str
    topic: str
    mode: str  # "offline" or "live"
    predictor: str
    scores: Scores
    latency_s: list[float]
    latency_kind: str  # what the latency measures
    notes: list[str] = field(default_factory=list)
    # What reading the bag found, recovered and lost (io.BagReadReport.health()); None when
    # the caller did not pass it.
    bag_health: dict | None = None

    def summary(self) -> dict:
        p50, p99 = percentiles_ms(self.latency_s)
        s = self.scores
        return {
            "bag": self.bag, "topic": self.topic, "mode": self.mode,
            "predictor": self.predictor,
            "mpjpe_mm": _mm(s.mpjpe_m),
            "mpjpe_mm_by_horizon": {f"{h:.3f}": _mm(e) for h, e in
                                    zip(s.horizons_s, s.mpjpe_by_horizon_m)},
            "mpjpe_mm_by_joint": {n: _mm(e) for n, e in zip(JOINT_NAMES, s.mpjpe_by_joint_m)},
            "scored_forecasts_by_horizon": {f"{h:.3f}": int(n) for h, n in
                                            zip(s.horizons_s, s.scored_by_horizon)},
            **coverage_summary(s),
            "skeletons_in": s.inputs, "skeletons_forecast": s.inputs_forecast,
            "share_forecast": round(s.share_forecast, 4), "forecasts": s.forecasts,
            "latency_ms_p50": _round(p50), "latency_ms_p99": _round(p99),
            "latency_kind": self.latency_kind, "notes": self.notes,
            "bag_health": self.bag_health,
        }

    def text(self) -> str:
        d = {k: ("n/a" if v is None else v) for k, v in self.summary().items()}
        lines = [f"{d['mode']} evaluation of {d['predictor']} on {d['bag']} ({d['topic']})",
                 f"  MPJPE {d['mpjpe_mm']} mm over all horizons; forecast "
                 f"{d['skeletons_forecast']}/{d['skeletons_in']} skeletons "
                 f"({100 * d['share_forecast']:.1f}%)",
                 f"  latency p50 {d['latency_ms_p50']} ms, p99 {d['latency_ms_p99']} ms "
                 f"({d['latency_kind']})"]
        if d["radius_scored_total"]:
            lines.append(f"  inside the radius: {_percent(d['coverage'])} of joint-horizons "
                         f"(the forecasts state {d['coverage_stated']:.2f}; 0: not calibrated)")
        lines.append("  horizon_s  mpjpe_mm  scored  coverage  radius_mm")
        for h, e in d["mpjpe_mm_by_horizon"].items():
            lines.append(f"  {h:>9}  {'n/a' if e is None else e:>8}  "
                         f"{d['scored_forecasts_by_horizon'][h]:>6}  "
                         f"{_percent(d['coverage_by_horizon'][h]):>8}  "
                         f"{'n/a' if (r := d['mean_radius_mm_by_horizon'][h]) is None else r:>9}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def coverage_summary(s: Scores) -> dict:
    """The radius' coverage and mean size per horizon (None where nothing was scored)."""
    horizons = [f"{h:.3f}" for h in s.horizons_s]
    counts = s.radius_scored_by_horizon
    return {
        "coverage_stated": round(s.coverage_stated, 4), "coverage": _round(s.coverage, 4),
        "coverage_by_horizon": {h: _round(c, 4) for h, c in zip(horizons, s.coverage_by_horizon)},
        "mean_radius_mm_by_horizon": {h: _mm(r) for h, r in
                                      zip(horizons, s.mean_radius_by_horizon_m)},
        "radius_scored_by_horizon": {h: int(n) for h, n in zip(horizons, counts)},
        "radius_scored_total": int(counts.sum()),
    }


def _percent(share) -> str:
    return "n/a" if share is None else f"{100 * share:.1f}%"


def _round(value: float, digits: int = 3):
    return None if value is None or math.isnan(value) else round(float(value), digits)


def _mm(value_m: float):
    return _round(value_m * 1e3, 2)


def write_outputs(evaluation: Evaluation, out_dir: str | Path) -> list[Path]:
    """evaluation.json, mpjpe_by_horizon.csv (with the radius' coverage and mean size),
    mpjpe_by_joint.csv and mpjpe.png in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = evaluation.summary()
    paths = [out / "evaluation.json", out / "mpjpe_by_horizon.csv", out / "mpjpe_by_joint.csv",
             out / "mpjpe.png"]
    paths[0].write_text(json.dumps(summary, indent=2) + "\n")
    s = evaluation.scores
    _write_csv(paths[1], ["horizon_s", "mpjpe_mm", "scored_forecasts", "coverage",
                          "mean_radius_mm", "radius_scored"],
               [[f"{h:.3f}", _mm(e), int(n), _round(c, 4), _mm(r), int(k)]
                for h, e, n, c, r, k in zip(s.horizons_s, s.mpjpe_by_horizon_m,
                                            s.scored_by_horizon, s.coverage_by_horizon,
                                            s.mean_radius_by_horizon_m,
                                            s.radius_scored_by_horizon)])
    _write_csv(paths[2], ["joint", "mpjpe_mm"] + [f"mpjpe_mm_at_{h:.3f}s" for h in s.horizons_s],
               [[name, _mm(s.mpjpe_by_joint_m[j])]
                + [_mm(e) for e in s.mpjpe_by_horizon_joint_m[:, j]]
                for j, name in enumerate(JOINT_NAMES)])
    plot(evaluation, paths[3])
    return paths


def _write_csv(path: Path, head: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(head)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def plot(evaluation: Evaluation, path: Path) -> None:
    """MPJPE against horizon, and per joint, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = evaluation.scores
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(s.horizons_s, s.mpjpe_by_horizon_m * 1e3, marker="o")
    left.set_xlabel("forecast horizon (s)")
    left.set_ylabel("MPJPE (mm)")
    left.set_title(f"{evaluation.predictor} ({evaluation.mode})")
    left.grid(alpha=0.3)
    right.barh(np.arange(len(JOINT_NAMES)), np.nan_to_num(s.mpjpe_by_joint_m * 1e3))
    right.set_yticks(np.arange(len(JOINT_NAMES)), JOINT_NAMES, fontsize=7)
    right.invert_yaxis()
    right.set_xlabel("MPJPE over all horizons (mm)")
    fig.suptitle(Path(evaluation.bag).name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
