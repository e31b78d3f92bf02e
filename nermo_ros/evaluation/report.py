"""Benchmark results as a text table, a JSON file and a PNG plot of error against horizon."""

from __future__ import annotations

import json
from pathlib import Path

from nermo_ros.evaluation.protocol import EVAL_HORIZONS_MS

PAPER_CMU_MM = {"80": 8.05, "160": 14.14, "320": 29.43, "400": 37.15}  # NeRMo, ECCV 2024


def table(per_method: dict, row: str = "average", title: str = "") -> str:
    """Markdown table: one line per method, MPJPE (mm) at each protocol horizon."""
    head = "| method | " + " | ".join(f"{ms} ms" for ms in EVAL_HORIZONS_MS) + " |"
    rule = "|---|" + "---:|" * len(EVAL_HORIZONS_MS)
    lines = [title, "", head, rule] if title else [head, rule]
    best = [min(rows[row][i] for rows in per_method.values()) for i in range(len(EVAL_HORIZONS_MS))]
    for name, rows in per_method.items():
        cells = [f"**{v:.2f}**" if v == best[i] else f"{v:.2f}" for i, v in enumerate(rows[row])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_action_table(per_method: dict, method: str) -> str:
    head = "| action | " + " | ".join(f"{ms} ms" for ms in EVAL_HORIZONS_MS) + " |"
    lines = [head, "|---|" + "---:|" * len(EVAL_HORIZONS_MS)]
    for action, values in per_method[method].items():
        lines.append(f"| {action} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
    return "\n".join(lines)


def write_json(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))


def plot(path: Path, results: dict) -> None:
    """One panel per (layout, setting): average MPJPE against horizon, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layouts = [k for k in results if isinstance(results[k], dict) and "settings" in results[k]]
    settings = list(results[layouts[0]]["settings"])
    fig, axes = plt.subplots(len(layouts), len(settings), figsize=(4 * len(settings), 3.4 * len(layouts)),
                             squeeze=False)
    for r, layout in enumerate(layouts):
        for c, setting in enumerate(settings):
            ax = axes[r][c]
            for name, rows in results[layout]["settings"][setting].items():
                ax.plot(EVAL_HORIZONS_MS, rows["average"], marker="o", label=name)
            ax.set_title(f"{layout}: {setting}", fontsize=9)
            ax.set_xlabel("horizon (ms)")
            ax.set_ylabel("MPJPE (mm)")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
