"""When each bag message is due during a replay, as `ros2 bag play` times it.

Messages keep the spacing of their bag (log) times divided by ``rate``; ``start_offset_s``
skips the first seconds of the bag; a loop starts the next pass one typical message interval
after the last message of the previous one. The simulated time published on /clock is the bag
time of the playback position, so a node with use_sim_time sees the recording's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ReplaySettings:
    rate: float = 1.0
    start_offset_s: float = 0.0
    loop: bool = False
    remap: dict[str, str] = field(default_factory=dict)
    clock_hz: float = 40.0  # /clock publications per second between messages; 0: no /clock
    delay_s: float = 0.0  # wait before the first message (discovery of late subscribers)

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be > 0 (1.0 = recorded speed), got {self.rate}")
        if self.start_offset_s < 0 or self.clock_hz < 0 or self.delay_s < 0:
            raise ValueError(f"start_offset_s, clock_hz and delay_s must be >= 0, got "
                             f"{self.start_offset_s}, {self.clock_hz}, {self.delay_s}")


@dataclass(frozen=True)
class Schedule:
    """Messages ``indices`` (into the bag-ordered list) due ``due_s`` after the pass starts."""

    indices: np.ndarray
    due_s: np.ndarray
    bag_start_ns: int  # bag time of the pass start (the /clock value at due 0)
    pass_s: float  # wall seconds of one pass, loop gap included


def schedule(log_ns: np.ndarray, settings: ReplaySettings) -> Schedule:
    """One pass over messages with bag times ``log_ns`` (non-decreasing)."""
    log_ns = np.asarray(log_ns, dtype=np.int64)
    if len(log_ns) and np.any(np.diff(log_ns) < 0):
        raise ValueError("bag times must be in order; read the bag in bag-time order")
    if not len(log_ns):
        return Schedule(np.zeros(0, np.int64), np.zeros(0), 0, 0.0)
    start_ns = int(log_ns[0]) + int(round(settings.start_offset_s * 1e9))
    indices = np.flatnonzero(log_ns >= start_ns)
    due_s = (log_ns[indices] - start_ns) * 1e-9 / settings.rate
    steps = np.diff(log_ns[indices]) * 1e-9 / settings.rate
    typical_s = float(np.median(steps[steps > 0])) if np.any(steps > 0) else 0.0
    pass_s = float(due_s[-1]) + typical_s if len(due_s) else 0.0
    return Schedule(indices, due_s, start_ns, pass_s)


def clock_ns(sched: Schedule, elapsed_s: float, rate: float) -> int:
    """Bag time at ``elapsed_s`` wall seconds into a pass."""
    return sched.bag_start_ns + int(round(elapsed_s * rate * 1e9))


def parse_remaps(items: list[str] | None) -> dict[str, str]:
    """``["/a:=/b", ...]`` (or ``/a:/b``) -> {"/a": "/b"}; says which item is malformed."""
    remap = {}
    for item in items or []:
        source, sep, target = item.partition(":=")
        if not sep:
            source, sep, target = item.partition(":")
        if not sep or not source or not target:
            raise ValueError(f"remapping {item!r} must look like /from:=/to")
        remap[source] = target
    return remap
