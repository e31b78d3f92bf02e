"""Where a person really was at a given time: what every forecast is scored against.

The truth at t is the observed pose linearly interpolated between the two observations around
t, for the joints seen in both, and only where those observations are at most
``SCORING_MAX_GAP_S`` apart: across a longer gap nobody knows where the person was. Bag
evaluation and the demo's live score read it from a track's observations (``interpolate``);
the predictor's live scorers (``live_coverage.py``, ``track_record.py``), which keep only each
person's two newest frames, ask which waiting horizons arrived between them (``arrivals``).
"""

from __future__ import annotations

import numpy as np

SCORING_MAX_GAP_S = 0.25


def interpolate(stamps_ns: np.ndarray, positions_m: np.ndarray, observed: np.ndarray,
                query_ns: np.ndarray, max_gap_s: float = SCORING_MAX_GAP_S
                ) -> tuple[np.ndarray, np.ndarray]:
    """(N, J, 3) positions at ``query_ns`` and (N, J) validity, from one track's observations:
    ``stamps_ns`` (T,) strictly increasing, ``positions_m`` (T, J, 3), ``observed`` (T, J)."""
    stamps = np.asarray(stamps_ns, dtype=np.int64)
    query = np.asarray(query_ns, dtype=np.int64)
    hi = np.clip(np.searchsorted(stamps, query, side="left"), 0, len(stamps) - 1)
    exact = stamps[hi] == query
    lo = np.where(exact, hi, np.clip(hi - 1, 0, len(stamps) - 1))
    inside = (query >= stamps[0]) & (query <= stamps[-1])
    span_ns = (stamps[hi] - stamps[lo]).astype(np.float64)
    weight = np.where(span_ns > 0, (query - stamps[lo]) / np.where(span_ns > 0, span_ns, 1), 0.0)
    positions = ((1 - weight)[:, None, None] * positions_m[lo]
                 + weight[:, None, None] * positions_m[hi])
    ok = inside & (span_ns <= max_gap_s * 1e9)
    valid = ok[:, None] & observed[lo] & observed[hi]
    return positions, valid


def arrivals(stamps_ns: np.ndarray, waiting: np.ndarray, horizons_ns: np.ndarray,
             previous_ns, newest_ns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The waiting horizons whose time came with a person's newest frame.

    ``stamps_ns`` (N,): when each waiting forecast was made; ``waiting`` (N, H): horizons not
    scored yet; ``previous_ns``, ``newest_ns``: the person's two newest frames, a scalar or one
    per forecast (N,). A horizon arrives when its time falls in (previous, newest], so with
    exactly one frame. Returns ``rows``, ``horizons`` (M,), their times ``target_ns`` (M,) and
    ``weight`` (M,): where each falls between the two frames (0 at the previous one, 1 at the
    newest), the share of the newest frame in its truth (``between``)."""
    targets_ns = stamps_ns[:, None] + horizons_ns[None]  # (N, H)
    previous = np.broadcast_to(np.asarray(previous_ns, np.int64), stamps_ns.shape)[:, None]
    newest = np.broadcast_to(np.asarray(newest_ns, np.int64), stamps_ns.shape)[:, None]
    rows, horizons = np.nonzero(waiting & (targets_ns > previous) & (targets_ns <= newest))
    target_ns = targets_ns[rows, horizons]
    weight = (target_ns - previous[rows, 0]) / (newest[rows, 0] - previous[rows, 0])
    return rows, horizons, target_ns, weight


def between(previous_m: np.ndarray, newest_m: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(M, J, 3) positions between two frames, ``weight`` (M,) the newest frame's share
    (``arrivals``). The frames are (J, 3), one person's, or (M, J, 3), one per arrival."""
    weight = weight[:, None, None]
    return (1 - weight) * previous_m + weight * newest_m
