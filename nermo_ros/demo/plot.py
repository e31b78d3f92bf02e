"""The demo's closing picture: forecast error against horizon, one line per predictor."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_error_vs_horizon(horizons_s, errors_mm: dict[str, np.ndarray], path: str | Path,
                          title: str) -> Path:
    """Write a PNG of MPJPE (mm) against horizon (ms) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(6, 4))
    horizons_ms = 1e3 * np.asarray(horizons_s)
    for name, errors in errors_mm.items():
        axes.plot(horizons_ms, errors, marker="o", label=name.replace("_", " "))
    axes.set_xlabel("forecast horizon (ms)")
    axes.set_ylabel("mean joint error, MPJPE (mm)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
