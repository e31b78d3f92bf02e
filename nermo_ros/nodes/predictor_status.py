"""What the predictor node says on `/diagnostics`: flow, latency, events, and when to WARN.

Beside them, the coverage the radius states and, over the latest ``coverage_window_frames``
frames whose future has arrived, the share of joint positions that fell inside it, per horizon
(``forecasting/live_coverage.py``); live data need not be like the calibration data, so a low
value is reported, not warned about.

WARN while a declared fallback runs (with its reason), when inputs were dropped or frames
skipped or lost since the last report, or when the age of forecasts (now minus their frame's
stamp) exceeds ``latency_budget_s`` at p99. Frames that never reached the callback are
counted from each publisher's sequence numbers (a gap is a frame skipped: overwritten while
the node was busy, or lost on the way) and from the middleware's message-lost event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nermo_ros.forecasting.core import (TRACK_EVICTED, TRACK_EXPIRED, TRACK_RECORD_FALLBACK,
                                        WITHHELD)
from nermo_ros.nodes.diagnostics import OK, WARN, DiagnosticReport
from nermo_ros.tracking.validation import RESET_REASONS, Reason

# Events that are bookkeeping, not trouble: counted on /diagnostics, no WARN of their own (a
# track record's baseline in use WARNs while it lasts, below). A skeleton held after a jump is
# the tracker's routine answer to a camera's glitch or an identity switch, as a reset was.
ROUTINE = frozenset({TRACK_EXPIRED, TRACK_EVICTED, TRACK_RECORD_FALLBACK,
                     Reason.JUMP_HELD}) | RESET_REASONS


@dataclass
class FrameFlow:
    """Frames that reached the callback, and those that did not."""

    frames_received: int = 0
    frames_skipped: int = 0  # publication sequence gaps: never reached the callback
    dds_lost: int = 0  # the middleware's message-lost event (a subset of the skipped)
    inactive: int = 0  # arrived while the node was not active
    _last_sequence: dict = field(default_factory=dict)

    def received(self, info: dict | None) -> None:
        self.frames_received += 1
        sequence = (info or {}).get("publication_sequence_number")
        if not sequence:
            return
        publisher = str((info or {}).get("publisher_gid"))
        last = self._last_sequence.get(publisher)
        if last is not None and sequence > last + 1:
            self.frames_skipped += sequence - last - 1
        self._last_sequence[publisher] = sequence

    def on_message_lost(self, info) -> None:
        self.dds_lost += int(info.total_count_change)

    @property
    def processed_share(self) -> float:
        sent = self.frames_received + self.frames_skipped
        return self.frames_received / sent if sent else 1.0


@dataclass
class ReportedTotals:
    """Totals at the previous report, to say what changed since."""

    troubles: int = 0
    skipped: int = 0


def predictor_report(node) -> DiagnosticReport:
    """The node's status now (``node``: a configured PredictorNode)."""
    core, flow, settings = node.core, node.flow, node.settings
    predictor = core.predictor
    processing_p50, processing_p99 = node.processing.percentiles_ms()
    predictor_p50, predictor_p99 = node.predictor_latency.percentiles_ms()
    age_p50, age_p99 = node.age.percentiles_ms()
    events = dict(sorted(core.counts.items()))
    fallback = getattr(predictor, "fallback_reason", "")
    values = {
        "predictor": predictor.name,
        "backend": getattr(predictor, "backend_description", ""),
        "fallback": fallback or "none",
        "active": node.active,
        "frames_received_total": flow.frames_received,
        "frames_skipped_total": flow.frames_skipped,
        "frames_lost_dds_total": flow.dds_lost,
        "frames_processed_share": flow.processed_share,
        "frames_inactive_total": flow.inactive,
        "forecast_arrays_out_total": core.frames_answered,
        "forecasts_out_total": core.forecasts_out,
        "age_p50_ms": age_p50, "age_p99_ms": age_p99,
        "latency_p50_ms": processing_p50, "latency_p99_ms": processing_p99,
        "predictor_latency_p50_ms": predictor_p50, "predictor_latency_p99_ms": predictor_p99,
        "windows": len(core.tracker),
        "tracks_expired_total": events.get(TRACK_EXPIRED, 0),
        "tracks_evicted_total": events.get(TRACK_EVICTED, 0),
        **{f"track_resets_{reason}_total": events.get(reason, 0)
           for reason in sorted(RESET_REASONS)},
        "skeletons_held_after_jump_total": events.get(Reason.JUMP_HELD, 0),
        **{f"withheld_{reason}_total": n for reason, n in events.items() if reason in WITHHELD},
        **{f"dropped_{reason}_total": n for reason, n in events.items()
           if reason not in ROUTINE and reason not in WITHHELD},
    }
    values.update(coverage_values(predictor, node.live_coverage, core.horizons_s))
    values.update(track_record_values(core))
    values.update(view_values(core))
    # The input's own error added to every radius (input_error_m; 0: input taken as exact).
    values["radius_input_error_max_m"] = float(max(settings.input_error_m))
    values["dropped_total"] = sum(n for reason, n in events.items() if reason not in ROUTINE
                                  and reason not in WITHHELD)
    reported = node.reported
    troubles = sum(n for reason, n in events.items() if reason not in ROUTINE)
    new_troubles, reported.troubles = troubles - reported.troubles, troubles
    new_skipped, reported.skipped = flow.frames_skipped - reported.skipped, flow.frames_skipped
    problems = []
    if fallback:
        problems.append(f"fallback: {fallback}")
    if core.track_record is not None and (using := core.track_record.fallbacks_now(
            core.horizons_s)):
        problems.append("fallback by track record (a baseline has lately beaten "
                        f"{predictor.name} for these people): " + " | ".join(using))
    if new_troubles:
        problems.append(f"{new_troubles} inputs dropped or forecasts withheld since the last "
                        f"report (see dropped_*, withheld_*)")
    if new_skipped:
        problems.append(f"{new_skipped} frames skipped or lost since the last report "
                        f"(processing {100 * flow.processed_share:.1f} % of frames; overload?)")
    if age_p99 > 1e3 * settings.latency_budget_s:
        problems.append(f"forecast age p99 {age_p99:.1f} ms exceeds latency_budget_s="
                        f"{settings.latency_budget_s}")
    if problems:
        return DiagnosticReport(WARN, "; ".join(problems), values)
    return DiagnosticReport(OK, f"{len(core.tracker)} people tracked", values)


def view_values(core) -> dict:
    """The view's tilt as the people in it show it (NaN until enough were seen), and whether
    level_view takes it away now (``forecasting/view_level.py``)."""
    return {"view_tilt_deg": core.view.tilt_deg,
            "view_levelled": bool(core.settings.level_view and core.view.turn() is not None)}


def coverage_values(predictor, live, horizons_s) -> dict:
    """What the radius is, the coverage it states (0: not calibrated) and the live coverage
    per horizon."""
    values = {"radius": getattr(predictor, "radius_note", ""),
              "coverage_stated": getattr(predictor, "radius_coverage", 0.0)}
    if live is None:
        return values
    summary = live.summary()
    values.update(coverage_live=summary.coverage, coverage_live_frames=summary.frames,
                  coverage_live_scored=summary.scored)
    for h, share, radius in zip(horizons_s, summary.coverage_by_horizon,
                                summary.mean_radius_by_horizon_m):
        values[f"coverage_live_{1000 * h:.0f}ms"] = float(share)
        values[f"radius_live_mean_m_{1000 * h:.0f}ms"] = float(radius)
    return values


def track_record_values(core) -> dict:
    """Whether the track record runs, how often it has handed horizons to a baseline, and
    the largest factor it puts on anyone's radius now."""
    record = core.track_record
    if record is None:
        return {"track_record": "off"}
    values = {"track_record": "on: " + ", ".join(record.candidates),
              "track_record_switches_total": core.counts.get(TRACK_RECORD_FALLBACK, 0),
              "track_record_forecasts_with_baseline_total": record.forecasts_with_baseline,
              "track_record_radius_scale_max": record.largest_radius_scale()}
    for name, horizons in zip(record.candidates[1:], record.horizons_by_candidate[1:]):
        values[f"track_record_horizons_{name}_total"] = int(horizons)
    return values
