"""Benchmark results as text tables, a JSON file and a PNG plot of error against horizon."""

from __future__ import annotations

import json
from pathlib import Path

from nermo_ros.evaluation import published
from nermo_ros.evaluation.protocol import EVAL_HORIZONS_MS, LAYOUT_NUM_JOINTS

# A row whose test-time setting each fold chose on the other folds (evaluation/velocity_blend.py).
NESTED_SUFFIX = "_blend_nested"


def _head(first: str, counted: str = "") -> list[str]:
    """A table's header: the row label, a count column named ``counted`` if given, then the
    horizons."""
    count = [counted] if counted else []
    return ["| " + " | ".join([first] + count + [f"{ms} ms" for ms in EVAL_HORIZONS_MS]) + " |",
            "|---|" + "---:|" * (len(count) + len(EVAL_HORIZONS_MS))]


def _cells(values) -> str:
    return " | ".join("-" if v is None else f"{v:.2f}" for v in values)


def table(per_method: dict, row: str = "average", title: str = "") -> str:
    """Markdown table: one line per method, MPJPE (mm) at each protocol horizon."""
    lines = ([title, ""] if title else []) + _head("method")
    best = [min(rows[row][i] for rows in per_method.values()) for i in range(len(EVAL_HORIZONS_MS))]
    for name, rows in per_method.items():
        cells = [f"**{v:.2f}**" if v == best[i] else f"{v:.2f}" for i, v in enumerate(rows[row])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_action_table(per_method: dict, method: str, title: str = "") -> str:
    lines = ([title, ""] if title else []) + _head("action")
    for action, values in per_method[method].items():
        lines.append(f"| {action} | {_cells(values)} |")
    return "\n".join(lines)


def per_trial_table(rows: dict, samples: dict, title: str = "") -> str:
    """One line per trial: its window count, then its mean error at each horizon."""
    lines = ([title, ""] if title else []) + _head("trial", counted="windows")
    for trial, values in rows.items():
        lines.append(f"| {trial} | {samples[trial]} | {_cells(values)} |")
    return "\n".join(lines)


def published_table(ours_38_mm: list[float], label: str, title: str = "",
                    actions=()) -> str:
    """Our 38-joint average next to the published ones (``published.AVERAGES_MM``) and, for
    our ``actions``, PGBIG's released per-action figures averaged over the same action folders
    (``published.released_pgbig_over``: the published averages hold other actions). The
    published averages are left out when ``actions`` leave out a benchmark action we have
    trials of (``evaluate --actions``): beside a few actions' average they would mislead."""
    lines = ([title, ""] if title else []) + _head("model")
    lines.append(f"| {label} | {_cells(ours_38_mm)} |")
    mix = published.released_pgbig_over(actions)
    if not actions or _covers_our_benchmark_actions(mix[1] if mix else []):
        for name, values in published.AVERAGES_MM.items():
            lines.append(f"| {name} (public test split) | {_cells(values)} |")
    if mix is not None:
        values, covered = mix
        lines.append(f"| PGBIG, released checkpoint, its per-action figures averaged over our "
                     f"{len(covered)} action folders (public test split) | {_cells(values)} |")
    return "\n".join(lines)


def _covers_our_benchmark_actions(action_folders) -> bool:
    """Whether ``action_folders`` hold every benchmark action but washwindow (none in our data)."""
    covered = {published.ACTION_OF_FOLDER.get(a, a) for a in action_folders}
    return set(published.PGBIG_RELEASED_PER_ACTION_MM) - {"washwindow"} <= covered


def pgbig_ratio_table(rows_38_mm: dict, title: str = "", action_of=None,
                      row_label: str = "action") -> str:
    """Per action (or per row ``action_of`` names the action of, e.g. a trial): our 38-joint
    error over PGBIG's released one at each horizon; cells above
    1 + ``published.PER_ACTION_TOLERANCE`` are marked. Actions PGBIG has no figure for, and the
    average (ours and theirs average over different sets of actions), are left out."""
    lines = ([title, ""] if title else []) + _head(f"{row_label} (ours / PGBIG released)")
    limit = 1.0 + published.PER_ACTION_TOLERANCE
    for action, ours in rows_38_mm.items():
        theirs = published.released_pgbig(action_of(action) if action_of else action)
        if theirs is None:
            continue
        ratios = [a / b for a, b in zip(ours, theirs)]
        cells = [f"**{r:.2f}**" if r > limit else f"{r:.2f}" for r in ratios]
        lines.append(f"| {action} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))


def plot(path: Path, panels: dict) -> None:
    """One panel per title: average MPJPE against horizon, one line per method.
    ``panels``: {title: {method: {"average": [...], ...}}}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(4, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.4 * rows), squeeze=False)
    for ax, (title, per_method) in zip(axes.flat, panels.items()):
        for name, per_action in per_method.items():
            ax.plot(EVAL_HORIZONS_MS, per_action["average"], marker="o", label=name)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("horizon (ms)")
        ax.set_ylabel("MPJPE (mm)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


SAMPLING_LABELS = {"protocol8": "8 seeded samples per trial", "all": "every window, stride 1"}


def headline_method(method_names) -> str:
    """The method whose per-action tables are printed: NeRMo with the most steps, blended by
    nested choice and mirror-averaged where those were run (its best test-time settings), else
    the DCT-MLP, else constant velocity."""
    nermo = [n for n in method_names if n.startswith("nermo_")]
    if nermo:
        steps = lambda n: int(n.removeprefix("nermo_").split("step")[0])  # noqa: E731
        nested = lambda n: n.endswith(NESTED_SUFFIX)  # noqa: E731
        mirror = lambda n: n.removesuffix(NESTED_SUFFIX).endswith("_mirror")  # noqa: E731
        return max(nermo, key=lambda n: (steps(n), nested(n), mirror(n)))
    return "dct_mlp" if "dct_mlp" in method_names else "constant_velocity"


OUR_TRIALS = "our trials"


def summary_text(layout: str, sampling: str, summary: dict, note: str = "",
                 ours: str = OUR_TRIALS, per_trial: bool = False) -> str:
    """Every table of one layout and sampling: averages per setting, then for complete
    observations the 38-joint averages against the published ones and the headline method's
    per-action tables (the 25- or 17-joint mean and, on the protocol skeleton, the 38-joint one
    and its ratio to PGBIG's released figures); with ``per_trial``, the same per trial.
    ``ours`` names the trials scored (another folder may hold the public test split itself)."""
    joints = LAYOUT_NUM_JOINTS[layout]
    where = f"{layout}, {SAMPLING_LABELS[sampling]}{note} ({summary['samples']} samples)"
    parts = []
    for setting, per_method in summary["mpjpe_mm"].items():
        parts.append(table(per_method, title=f"### {where}, {setting}: MPJPE mm, mean over "
                           f"{joints} joints, average over actions"))
    complete = next(iter(summary["mpjpe_mm"]))
    best = headline_method(summary["mpjpe_mm"][complete])
    public = summary.get("public38_mm", {}).get(complete)
    if public:
        parts.append(table(public, title=f"### {where}, {complete}: mean over 38 joints as the "
                           "public code takes it (the figure papers report)"))
        theirs = ("theirs on the public test split, which is not in our data" if ours == OUR_TRIALS
                  else f"theirs on the public test split, ours on {ours}")
        parts.append(published_table(public[best]["average"], f"{best} (ours, {ours})",
                                     title=f"### {where}: {best} against published figures "
                                     f"(38 joints; {theirs})",
                                     actions=[a for a in public[best] if a != "average"]))
    parts.append(per_action_table(summary["mpjpe_mm"][complete], best,
                                  title=f"### {where}, {complete}: {best} per action, "
                                  f"mean over {joints} joints"))
    if public:
        parts.append(per_action_table(public, best, title=f"### {where}, {complete}: {best} "
                                      "per action, mean over 38 joints (public code)"))
        parts.append(pgbig_ratio_table(public[best], title=f"### {where}, {complete}: {best} "
                                       "over PGBIG's released per-action figures (38 joints; "
                                       f"bold: more than {published.PER_ACTION_TOLERANCE:.0%} "
                                       f"worse; {_which_trials(ours)})"))
    if per_trial and summary.get("per_trial"):
        parts += _per_trial_parts(summary["per_trial"], complete, best, where, joints, ours)
    return "\n\n".join(parts)


def _which_trials(ours: str) -> str:
    return ("different trials, indicative only" if ours == OUR_TRIALS else
            f"theirs on the public test split, ours on {ours}")


def _per_trial_parts(per_trial: dict, setting: str, method: str, where: str,
                     joints: int, ours: str) -> list[str]:
    """The headline method per trial: the layout's mean and, on the protocol skeleton, the
    38-joint one and its ratio to PGBIG's released figure for the trial's action."""
    samples, actions = per_trial["samples"], per_trial["actions"]
    parts = [per_trial_table(per_trial["mpjpe_mm"][setting][method], samples,
                             title=f"### {where}, {setting}: {method} per trial, mean over "
                             f"{joints} joints")]
    public = per_trial.get("public38_mm", {}).get(setting)
    if public:
        parts.append(per_trial_table(public[method], samples, title=f"### {where}, {setting}: "
                                     f"{method} per trial, mean over 38 joints (public code)"))
        parts.append(pgbig_ratio_table(public[method], action_of=actions.get, row_label="trial",
                                       title=f"### {where}, {setting}: {method} per trial over "
                                       "PGBIG's released figure for its action (38 joints; bold: "
                                       f"more than {published.PER_ACTION_TOLERANCE:.0%} worse; "
                                       f"{_which_trials(ours)})"))
    return parts
