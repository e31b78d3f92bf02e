"""What the demo prints: one line a second, a short summary and the plot at the end."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from nermo_ros.demo.plot import plot_error_vs_horizon
from nermo_ros.forecasting.track_record import handover_note

BASELINE = "zero_velocity baseline"


def _mm(value: float) -> str:
    return "  -- " if math.isnan(value) else f"{value:4.0f}"


def _ms(values: dict, key: str) -> str:
    value = values.get(key)
    return "--" if value in (None, "nan") else f"{float(value):.2f}"


class Reporter:
    def __init__(self, scored_horizon_s: float, predictor_name: str, print_fn=print):
        self.scored_horizon_s = scored_horizon_s
        self.predictor_name = predictor_name
        self._print = print_fn
        self._started_s = time.monotonic()
        self._input = ""  # a camera, video or image topic read through perception

    def intro_clip(self, clip, predictor_name: str) -> None:
        rate_hz = (clip.num_frames - 1) / clip.duration_s if clip.duration_s else float("nan")
        self._print(f"Playing the recorded motion '{clip.name}' ({clip.num_frames} frames, "
                    f"{clip.duration_s:.1f} s at {rate_hz:.0f} Hz) through the predictor node "
                    f"over ROS 2.\nForecaster: {predictor_name}. Forecasts go to "
                    f"/human_forecast. Ctrl-C stops.\n"
                    f"Error = mean joint distance between the forecast for "
                    f"{self.scored_horizon_s * 1e3:.0f} ms ahead and where the person then was "
                    f"(last second's forecasts).")

    def intro_input(self, source: str, predictor_name: str) -> None:
        self._input = source
        self._print(f"Reading {source!r} through the perception and predictor nodes.\n"
                    f"Forecaster: {predictor_name}. Forecasts go to /human_forecast. Ctrl-C "
                    f"stops.\nError = forecast for {self.scored_horizon_s * 1e3:.0f} ms ahead "
                    f"against the skeleton then seen.")

    def second(self, monitor) -> None:
        """The once-a-second line."""
        name = monitor.predictor_name or self.predictor_name
        errors = monitor.errors
        recent = errors.recent_mpjpe_mm(name, self.scored_horizon_s)
        still = errors.recent_mpjpe_mm(BASELINE, self.scored_horizon_s)
        status = monitor.predictor_status
        self._print(f"{time.monotonic() - self._started_s:5.0f} s | frames in "
                    f"{monitor.frames_in:5d} | forecasts out {monitor.forecasts_out:5d} | "
                    f"predictor latency p50 {_ms(status, 'predictor_latency_p50_ms')} ms, p99 "
                    f"{_ms(status, 'predictor_latency_p99_ms')} ms | error at "
                    f"{self.scored_horizon_s * 1e3:.0f} ms: {name} {_mm(recent)} mm, "
                    f"standing still {_mm(still)} mm")

    def summary(self, monitor, plot_path: Path, predictor_frames_in: int) -> None:
        """Error per horizon over the whole run, and the plot."""
        name = monitor.predictor_name or self.predictor_name
        errors = monitor.errors
        table = {name: errors.mpjpe_mm(name), BASELINE: errors.mpjpe_mm(BASELINE)}
        horizons_ms = 1e3 * errors.horizons_s
        self._print(f"\nDone: {monitor.frames_in} frames in, {monitor.forecasts_out} forecasts "
                    f"out.")
        if monitor.frames_in == 0 and self._input:
            # The perception node publishes every frame it takes, with people or without.
            self._print(f"No frame came through from {self._input!r}. For an image topic: is a "
                        f"camera driver publishing it (`ros2 topic hz {self._input}`)? Images "
                        f"that arrive and are refused are named in the perception node's log.")
        skipped = monitor.frames_in - predictor_frames_in
        if skipped > 0:
            self._print(f"The predictor skipped {skipped} frames that came while it was busy "
                        f"(its input keeps only the newest frames: a late frame is worth "
                        f"nothing to a planner).")
        handed_over = handover_note(monitor.predictor_fields)
        if handed_over:
            self._print(f"{handed_over[0].upper()}{handed_over[1:]} (docs/nodes.md, \"Track "
                        f"record\"); the {name} row scores what was published.")
        self._print("Mean joint error (mm) by horizon:")
        width = max(len(label) for label in table) + 1
        self._print(f"  {'horizon (ms)':<{width}}" + " ".join(f"{h:5.0f}" for h in horizons_ms))
        for label, row in table.items():
            self._print(f"  {label:<{width}}" + " ".join(_mm(v).rjust(5) for v in row))
        if np.isnan(table[name]).all():
            self._print("No forecast could be scored yet (too short a run); no plot written.")
            return
        path = plot_error_vs_horizon(errors.horizons_s, table, plot_path,
                                     "Forecast error against horizon (live demo)")
        self._print(f"Plot: {path}")
