"""RViz/Foxglove markers: each person's observed skeleton and predicted skeletons, and the
envelope the forecast's radius draws around them.

One LINE_LIST per skeleton (a segment per bone whose two joints are known). Predicted
skeletons fade from yellow to red with the horizon. Around the predicted joints of one horizon
(the nearest to ``radius_horizon_s``; 0: every horizon), a translucent SPHERE per joint whose
radius is the forecast's ``radius_m``: where the joint will be, at the stated coverage. RViz
gives a SPHERE_LIST one size for all its points, hence one marker per joint. Each array starts
with DELETEALL so people who left disappear. Building markers touches every point in Python,
so the node publishes them at a limited rate, not per frame.
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


def _lifetime(lifetime_s: float) -> Duration:
    return Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))


def radius_markers(header, namespace: str, positions_m: np.ndarray, radius_m: np.ndarray,
                   colour: ColorRGBA, lifetime_s: float) -> list[Marker]:
    """One translucent SPHERE per joint of a (J, 3) skeleton, of radius ``radius_m`` (J,)."""
    envelope = ColorRGBA(r=colour.r, g=colour.g, b=colour.b, a=0.25)
    lifetime = _lifetime(lifetime_s)
    markers = []
    for joint, ((x, y, z), radius) in enumerate(zip(positions_m.tolist(), radius_m.tolist())):
        marker = Marker(header=header, ns=namespace, id=joint, type=Marker.SPHERE,
                        action=Marker.ADD, color=envelope, lifetime=lifetime)
        marker.pose.position.x, marker.pose.position.y, marker.pose.position.z = x, y, z
        marker.pose.orientation.w = 1.0
        marker.scale.x = marker.scale.y = marker.scale.z = 2.0 * radius  # a diameter
        markers.append(marker)
    return markers


def radius_horizons(horizons_s: np.ndarray, radius_horizon_s: float) -> list[int]:
    """The horizon rows whose envelope is drawn: the nearest one, or all for 0."""
    if radius_horizon_s == 0.0:
        return list(range(len(horizons_s)))
    return [int(np.argmin(np.abs(np.asarray(horizons_s) - radius_horizon_s)))]


def bone_marker(header, namespace: str, marker_id: int, positions_m: np.ndarray,
                known: np.ndarray, colour: ColorRGBA, lifetime_s: float) -> Marker:
    """A LINE_LIST of the bones of one (J, 3) skeleton whose both joints are ``known``."""
    both_known = known[_BONE_JOINTS].reshape(-1, 2).all(axis=1)
    ends = positions_m[_BONE_JOINTS].reshape(-1, 2, 3)[both_known].reshape(-1, 3)
    marker = Marker(header=header, ns=namespace, id=marker_id, type=Marker.LINE_LIST,
                    action=Marker.ADD, color=colour, lifetime=_lifetime(lifetime_s))
    marker.scale.x = 0.02  # line width, metres
    marker.pose.orientation.w = 1.0
    marker.points = [Point(x=x, y=y, z=z) for x, y, z in ends.tolist()]
    return marker


def skeleton_markers(header, observed: dict[str, tuple[np.ndarray, np.ndarray]],
                     predicted: dict[str, np.ndarray], horizons_s: np.ndarray,
                     lifetime_s: float = 0.5, radii: dict[str, np.ndarray] | None = None,
                     radius_horizon_s: float = 1.0) -> MarkerArray:
    """observed: track -> (positions (J, 3), known (J,)); predicted: track -> (K, J, 3);
    radii: track -> (K, J) keep-out radius (None or a missing track: no envelope)."""
    envelope_rows = radius_horizons(horizons_s, radius_horizon_s)
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
            radius = None if radii is None else radii.get(track_id)
            if radius is not None and k in envelope_rows:
                markers += radius_markers(header, f"radius/{track_id}/{horizon_s:.2f}s",
                                          future[k], radius[k], predicted_colour(fraction),
                                          lifetime_s)
    return MarkerArray(markers=markers)
