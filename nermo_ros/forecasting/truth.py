"""Where a person really was at a given time: what every forecast is scored against.

The truth at t is the observed pose linearly interpolated between the two observations around
t, for the joints seen in both, and only where those observations are at most
``SCORING_MAX_GAP_S`` apart: across a longer gap nobody knows where the person was. Bag
evaluation and the demo's live score both read it from here.
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
