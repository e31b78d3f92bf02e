"""Identities that persist: the bodies of each frame associated into tracks (pure, no rclpy).

Each frame gives bodies with an anchor (``anchor.py``: pixels without depth, metres with),
the metres one anchor unit spans at the body, and a priority (how big the body looks: nearer
people first). How far a body moved is the anchor's displacement times the mean of its
metres-per-unit then and now; this keeps the noise of the scale estimate out of the distance.
Bodies are matched to tracks by an optimal assignment on that distance (scipy's
``linear_sum_assignment``), gated by how far a person can move: a track unseen for ``dt``
seconds can only be matched within ``max_speed_mps * dt + jump_slack_m``. Tracks seen in the
previous frame are matched first, remembered ones only with the bodies left over, so a
remembered duplicate never takes a person from the track that is following them. So:

- a body that jumped further than that starts a new track. When at the same time a track seen
  in the previous frame found no body, that is what a single-person follower would have taken
  for the same person; it is counted as an identity jump;
- a track with no body is remembered for ``occlusion_memory_s``, so a person walking behind
  another comes back under the same id;
- at most ``max_tracks`` tracks exist. Tracks that continue keep their place; new bodies take
  free places largest first, then the places of remembered (unseen) tracks, least recently
  seen first (counted as evicted); the rest are not published (counted).

Ids are ``<prefix><n>`` with n counting up from 0, never reused: a consumer that sees a new id
knows it is a new person, not the old one teleported. Stamps are seconds; a stamp earlier than
the last frame's (a bag looping, a clock reset) forgets every track (counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

NO_MATCH_COST = 1e9  # stands in for a pair the speed gate forbids


@dataclass(frozen=True)
class IdentitySettings:
    max_tracks: int = 4
    max_speed_mps: float = 4.0
    jump_slack_m: float = 0.3
    occlusion_memory_s: float = 1.0
    id_prefix: str = "body_"

    def __post_init__(self):
        problems = [f"{name}={value} must be > 0" for name, value in (
            ("max_tracks", self.max_tracks), ("max_speed_mps", self.max_speed_mps),
            ("jump_slack_m", self.jump_slack_m)) if value <= 0]
        if self.occlusion_memory_s < 0:
            problems.append(f"occlusion_memory_s={self.occlusion_memory_s} must be >= 0")
        if problems:
            raise ValueError("bad identity settings: " + "; ".join(problems)
                             + " (see config/perception.yaml)")


@dataclass(eq=False)
class Track:
    track_id: str
    anchor: np.ndarray
    metres_per_unit: float
    last_seen_s: float


@dataclass
class IdentityCounts:
    """Totals since start, for /diagnostics and the benchmark."""

    tracks_started: int = 0
    identity_jumps: int = 0
    tracks_expired: int = 0
    tracks_evicted: int = 0
    bodies_over_max_tracks: int = 0
    time_jumps: int = 0
    reacquired_after_occlusion: int = 0


@dataclass
class IdentityTracker:
    settings: IdentitySettings = field(default_factory=IdentitySettings)
    tracks: list[Track] = field(default_factory=list)
    counts: IdentityCounts = field(default_factory=IdentityCounts)
    _last_frame_s: float | None = None

    def update(self, stamp_s: float, anchors: np.ndarray, metres_per_unit: np.ndarray,
               priority: np.ndarray | None = None) -> list[str | None]:
        """The track id of each body of this frame (None: not kept, over ``max_tracks``).

        anchors: (N, D), D the same in every frame; metres_per_unit: (N,) scale of each
        body's anchor (1 for metric anchors); priority: (N,) larger is kept first when places
        run out (default: equal).
        """
        anchors = np.asarray(anchors, dtype=np.float64)
        if anchors.ndim != 2:
            raise ValueError(f"anchors must be (bodies, dims), got shape {anchors.shape}")
        scales = np.asarray(metres_per_unit, dtype=np.float64).reshape(len(anchors))
        priority = np.zeros(len(anchors)) if priority is None else np.asarray(priority)
        previous_frame_s = self._start_frame(stamp_s, anchors.shape[1])
        ids: list[str | None] = [None] * len(anchors)
        followed = [t for t in self.tracks if t.last_seen_s == previous_frame_s]
        remembered = [t for t in self.tracks if t.last_seen_s != previous_frame_s]
        lost = self._match(followed, stamp_s, anchors, scales, ids)
        left = self._match(remembered, stamp_s, anchors, scales, ids)
        self.counts.reacquired_after_occlusion += len(remembered) - len(left)
        unmatched = [i for i in np.argsort(-priority, kind="stable") if ids[i] is None]
        self.counts.identity_jumps += min(len(unmatched), len(lost))
        for i in unmatched:
            ids[i] = self._new_track(stamp_s, anchors[i], scales[i])
        return ids

    def _start_frame(self, stamp_s: float, dims: int) -> float | None:
        """Forget tracks that time, a clock jump or a change of anchor space ended."""
        previous = self._last_frame_s
        if previous is not None and stamp_s < previous:
            self.counts.time_jumps += 1
            self.tracks.clear()
            previous = None
        elif self.tracks and self.tracks[0].anchor.shape[0] != dims:
            self.tracks.clear()  # depth came or went: anchors of another space
        kept = [t for t in self.tracks
                if stamp_s - t.last_seen_s <= self.settings.occlusion_memory_s]
        self.counts.tracks_expired += len(self.tracks) - len(kept)
        self.tracks = kept
        self._last_frame_s = stamp_s
        return previous

    def _match(self, tracks: list[Track], stamp_s: float, anchors: np.ndarray,
               scales: np.ndarray, ids: list) -> list[Track]:
        """Give bodies without an id yet to ``tracks`` within the speed gate; -> the tracks
        left without a body."""
        free = [i for i in range(len(anchors)) if ids[i] is None]
        if not tracks or not free:
            return tracks
        old = np.stack([t.anchor for t in tracks])
        old_scale = np.array([t.metres_per_unit for t in tracks])
        step = np.linalg.norm(old[:, None, :] - anchors[None, free, :], axis=2)
        distance_m = step * 0.5 * (old_scale[:, None] + scales[None, free])
        unseen_s = stamp_s - np.array([t.last_seen_s for t in tracks])
        reach_m = self.settings.max_speed_mps * unseen_s + self.settings.jump_slack_m
        allowed = distance_m <= reach_m[:, None]
        rows, cols = linear_sum_assignment(np.where(allowed, distance_m, NO_MATCH_COST))
        matched = set()
        for k, c in zip(rows, cols):
            if allowed[k, c]:
                i = free[c]
                track = tracks[k]
                track.anchor, track.metres_per_unit = anchors[i].copy(), float(scales[i])
                track.last_seen_s = stamp_s
                ids[i] = track.track_id
                matched.add(k)
        return [t for k, t in enumerate(tracks) if k not in matched]

    def _new_track(self, stamp_s: float, anchor: np.ndarray,
                   metres_per_unit: float) -> str | None:
        """A track for a new body, in a free place or a remembered track's; None if none."""
        track = Track(f"{self.settings.id_prefix}{self.counts.tracks_started}", anchor.copy(),
                      float(metres_per_unit), stamp_s)
        if len(self.tracks) >= self.settings.max_tracks:
            unseen = [k for k, t in enumerate(self.tracks) if t.last_seen_s != stamp_s]
            if not unseen:
                self.counts.bodies_over_max_tracks += 1
                return None
            oldest = min(unseen, key=lambda k: self.tracks[k].last_seen_s)
            self.tracks.pop(oldest)
            self.counts.tracks_evicted += 1
        self.tracks.append(track)
        self.counts.tracks_started += 1
        return track.track_id
