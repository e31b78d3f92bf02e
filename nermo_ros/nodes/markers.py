"""RViz/Foxglove markers: each person's observed skeleton and predicted skeletons.

One LINE_LIST per skeleton (a segment per bone whose two joints are known). Predicted
skeletons fade from yellow to red with the horizon. Each array starts with DELETEALL so
people who left disappear. Building markers touches every point in Python, so the node
publishes them at a limited rate, not per frame.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from nermo_ros.skeleton import BONES

_BONE_JOINTS = np.array(BONES, dtype=np.intp).reshape(-1)  # parent, child, parent, child...
OBSERVED_COLOUR = ColorRGBA(r=0.1, g=0.8, b=0.2, a=1.0)


def predicted_colour(fraction: float) -> ColorRGBA:
    """Yellow (near future) to red (far future), more transparent further out."""
    return ColorRGBA(r=1.0, g=float(0.9 * (1.0 - fraction)), b=0.0,
                     a=float(0.9 - 0.5 * fraction))


def bone_marker(header, namespace: str, marker_id: int, positions_m: np.ndarray,
                known: np.ndarray, colour: ColorRGBA, lifetime_s: float) -> Marker:
    """A LINE_LIST of the bones of one (J, 3) skeleton whose both joints are ``known``."""
    both_known = known[_BONE_JOINTS].reshape(-1, 2).all(axis=1)
    ends = positions_m[_BONE_JOINTS].reshape(-1, 2, 3)[both_known].reshape(-1, 3)
    marker = Marker(header=header, ns=namespace, id=marker_id, type=Marker.LINE_LIST,
                    action=Marker.ADD, color=colour,
                    lifetime=Duration(sec=int(lifetime_s),
                                      nanosec=int((lifetime_s % 1.0) * 1e9)))
    marker.scale.x = 0.02  # line width, metres
    marker.pose.orientation.w = 1.0
    marker.points = [Point(x=x, y=y, z=z) for x, y, z in ends.tolist()]
    return marker


def skeleton_markers(header, observed: dict[str, tuple[np.ndarray, np.ndarray]],
                     predicted: dict[str, np.ndarray], horizons_s: np.ndarray,
                     lifetime_s: float = 0.5) -> MarkerArray:
    """observed: track -> (positions (J, 3), known (J,)); predicted: track -> (K, J, 3)."""
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for number, (track_id, (positions, known)) in enumerate(sorted(observed.items())):
        markers.append(bone_marker(header, f"observed/{track_id}", number, positions, known,
                                   OBSERVED_COLOUR, lifetime_s))
        future = predicted.get(track_id)
        if future is None:
            continue
        all_known = np.ones(future.shape[1], dtype=bool)
        for k, horizon_s in enumerate(horizons_s):
            fraction = k / max(len(horizons_s) - 1, 1)
            markers.append(bone_marker(header, f"predicted/{track_id}/{horizon_s:.2f}s",
                                       number, future[k], all_known,
                                       predicted_colour(fraction), lifetime_s))
    return MarkerArray(markers=markers)
