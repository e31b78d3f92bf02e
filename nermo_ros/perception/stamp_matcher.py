"""Pair messages of several streams by approximate stamp, where message_filters is missing.

The first stream is the pivot (the colour image): each pivot message is matched with the
message nearest in stamp from every other stream, within ``slop_s``. A pivot is emitted as soon
as all partners are within the slop, and dropped (counted) once no partner can arrive in time:
streams are assumed to arrive in stamp order, so a newer partner beyond the slop rules out
later ones. This is simpler than message_filters' ApproximateTimeSynchronizer but gives the
same pairs for the usual camera case of one colour, one depth and one camera_info per frame.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class ApproximateStampMatcher:
    """Feed messages with ``add``; it returns the matched tuples (pivot first) they complete."""

    def __init__(self, num_streams: int, slop_s: float, queue_size: int = 10):
        if num_streams < 2:
            raise ValueError(f"num_streams={num_streams}: matching needs at least 2 streams")
        if slop_s <= 0 or queue_size < 1:
            raise ValueError(f"slop_s={slop_s} must be > 0 and queue_size={queue_size} >= 1")
        self.slop_s = slop_s
        self._queues: list[deque[tuple[float, Any]]] = [deque(maxlen=queue_size)
                                                         for _ in range(num_streams)]
        self.dropped_pivots = 0

    def add(self, stream: int, stamp_s: float, message: Any) -> list[tuple[Any, ...]]:
        queue = self._queues[stream]
        if stream == 0 and len(queue) == queue.maxlen:
            self.dropped_pivots += 1  # the oldest pivot falls out unmatched
        queue.append((stamp_s, message))
        return self._match()

    def _match(self) -> list[tuple[Any, ...]]:
        matched = []
        pivots = self._queues[0]
        while pivots:
            pivot_s, pivot = pivots[0]
            partners = [self._nearest(queue, pivot_s) for queue in self._queues[1:]]
            if all(p is not None and abs(p[0] - pivot_s) <= self.slop_s for p in partners):
                matched.append((pivot, *(p[1] for p in partners)))
                pivots.popleft()
                self._consume_up_to([p[0] for p in partners])
            elif self._hopeless(pivot_s):
                pivots.popleft()
                self.dropped_pivots += 1
            else:
                break
        return matched

    @staticmethod
    def _nearest(queue: deque, stamp_s: float):
        return min(queue, key=lambda item: abs(item[0] - stamp_s), default=None)

    def _hopeless(self, pivot_s: float) -> bool:
        """Some stream has nothing within the slop and has already moved past it."""
        for queue in self._queues[1:]:
            near = any(abs(s - pivot_s) <= self.slop_s for s, _ in queue)
            if not near and queue and queue[-1][0] > pivot_s + self.slop_s:
                return True
        return False

    def _consume_up_to(self, used_stamps_s: list[float]) -> None:
        """Each message is used once; older partners than the used ones are stale too."""
        for queue, used_s in zip(self._queues[1:], used_stamps_s):
            while queue and queue[0][0] <= used_s:
                queue.popleft()
