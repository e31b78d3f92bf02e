"""A crowd of walkers for load tests: the recorded pybullet walk, several people, with churn.

Person k walks the recorded clip from its own phase, 1.5 m from the next person, on the spot
(the pelvis's travel over the ground is taken out, so a clip played for ten minutes neither
leaves the room nor jumps back when it loops). With churn,
each person leaves after ``churn_s`` seconds (staggered) and a newcomer with a new track id
takes their place, so the node sees people come and go all the time.
"""

from __future__ import annotations

import numpy as np

from nermo_ros.data.clip import Clip
from nermo_ros.skeleton import JOINT_NAMES

PELVIS = JOINT_NAMES.index("pelvis")
SPACING_M = 1.5


class Crowd:
    def __init__(self, clip: Clip, people: int, churn_s: float = 0.0):
        if people < 1:
            raise ValueError(f"a crowd needs at least one person, got {people}")
        if churn_s < 0:
            raise ValueError(f"churn_s must be >= 0 (0: nobody leaves), got {churn_s}")
        self.clip = clip
        self.people = people
        self.churn_s = churn_s
        self._phase_s = np.linspace(0.0, clip.duration_s, people, endpoint=False)

    def frame(self, t_s: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """track id -> (positions (J, 3), confidence (J,)) of everyone at ``t_s``."""
        out = {}
        confident = np.ones(self.clip.positions_m.shape[1], np.float32)
        for k in range(self.people):
            local_s = (t_s + self._phase_s[k]) % self.clip.duration_s
            index = int(np.searchsorted(self.clip.times_s - self.clip.times_s[0], local_s))
            pose = self.clip.positions_m[min(index, self.clip.num_frames - 1)].copy()
            pose[:, :2] -= pose[PELVIS, :2]
            pose[:, 1] += SPACING_M * k
            out[self.track_id(k, t_s)] = (pose.astype(np.float32), confident)
        return out

    def track_id(self, k: int, t_s: float) -> str:
        if self.churn_s <= 0:
            return f"person_{k}"
        generation = int((t_s + k * self.churn_s / self.people) // self.churn_s)
        return f"person_{k}_{generation}"

    def identities_by(self, t_s: float) -> int:
        """How many distinct people have appeared up to ``t_s``."""
        if self.churn_s <= 0:
            return self.people
        return sum(int((t_s + k * self.churn_s / self.people) // self.churn_s) + 1
                   for k in range(self.people))
