"""One frame of several bodies through the pipeline: duplicates, depth per body, ids (no ROS).

The bodies are built from landmarks with known geometry, so every answer is known; the
estimator is the plain function the pipeline calls (MediaPipe itself is exercised in
test_perception_mediapipe.py and on real video in test_perception_real_video.py).
"""

import numpy as np
import pytest

from nermo_ros import skeleton
from nermo_ros.perception.anchor import box_overlap, metres_per_pixel, without_duplicates
from nermo_ros.perception.depth import CameraIntrinsics, DepthConfig
from nermo_ros.perception.identity import IdentitySettings, IdentityTracker
from nermo_ros.perception.pipeline import DepthFrame, SkeletonPerception
from nermo_ros.perception.pose import BodyObservation

J = skeleton.JOINT_INDEX
WIDTH_PX, HEIGHT_PX = 640, 480
K = CameraIntrinsics(fx=500.0, fy=500.0, cx=320.0, cy=240.0, width=WIDTH_PX, height=HEIGHT_PX)


def standing_body(centre_x: float, height_frac: float = 0.5, confidence: float = 1.0,
                  height_m: float = 1.6) -> BodyObservation:
    """A body standing upright in the image: joints spread over ``height_frac`` of the image
    height around x = ``centre_x`` (normalised), metric skeleton ``height_m`` tall."""
    rng = np.random.default_rng(0)
    shape = rng.uniform(-0.5, 0.5, size=(skeleton.NUM_JOINTS, 2))  # (across, up) in [-.5, .5]
    shape[J["pelvis"]] = 0.0
    image_xy = np.stack([centre_x + shape[:, 0] * height_frac * HEIGHT_PX / WIDTH_PX,
                         0.5 - shape[:, 1] * height_frac], axis=1)
    positions = np.stack([np.zeros(len(shape)), -shape[:, 0] * height_m, shape[:, 1] * height_m],
                         axis=1)
    return BodyObservation(positions.astype(np.float32),
                           np.full(skeleton.NUM_JOINTS, confidence, np.float32),
                           image_xy.astype(np.float32))


class Scene:
    """Reports the bodies it is given for the next frame, as a pose estimator would."""

    def __init__(self):
        self.bodies: tuple[BodyObservation, ...] = ()

    def estimate(self, rgb, stamp_s):
        return self.bodies


RGB = np.zeros((HEIGHT_PX, WIDTH_PX, 3), np.uint8)


def test_a_body_spanning_half_the_image_height_has_its_metric_size_per_pixel():
    body = standing_body(0.5, height_frac=0.5, height_m=1.6)
    assert metres_per_pixel(body, WIDTH_PX, HEIGHT_PX) == pytest.approx(1.6 / 240.0, rel=1e-5)


def test_a_person_fitted_twice_is_kept_once_with_the_better_fit():
    good, poor, other = standing_body(0.3), standing_body(0.31, confidence=0.6), standing_body(0.8)
    assert box_overlap(good, poor) > 0.8 and box_overlap(good, other) == 0.0
    assert without_duplicates((poor, other, good), 0.8) == (other, good)


def test_two_people_keep_their_ids_while_they_walk_and_a_duplicate_is_counted():
    scene = Scene()
    perception = SkeletonPerception(scene, IdentityTracker())
    for i in range(5):
        left, right = standing_body(0.3 + 0.01 * i), standing_body(0.7 - 0.01 * i)
        scene.bodies = (right, left) if i % 2 else (left, right)  # any order
        if i == 2:
            scene.bodies += (standing_body(0.3 + 0.01 * i + 0.005, confidence=0.5),)
        result = perception.process(RGB, 0.1 * i)
        who = {p.track_id: "left" if p.positions_m is left.positions_m else "right"
               for p in result.people}
        assert who == {"body_0": "left", "body_1": "right"}, f"frame {i}"
    assert perception.duplicates_total == 1


def test_with_depth_each_body_is_placed_at_its_own_distance_and_one_without_depth_is_left_out():
    scene = Scene()
    scene.bodies = (standing_body(0.25), standing_body(0.75), standing_body(0.5, 0.2))
    depth_m = np.zeros((HEIGHT_PX, WIDTH_PX), np.float32)  # no reading in the middle
    depth_m[:, :240] = 2.0
    depth_m[:, 400:] = 4.0
    perception = SkeletonPerception(scene, IdentityTracker(),
                                    DepthConfig(surface_to_centre_m=0.1))
    result = perception.process(RGB, 0.0, DepthFrame(depth_m, K))
    assert result.bodies_found == 3 and result.depth_missing == 1
    pelvis_x = sorted(float(p.positions_m[J["pelvis"], 0]) for p in result.people)
    assert pelvis_x == pytest.approx([2.1, 4.1], abs=1e-4)  # forward: depth + surface offset
    left = min(result.people, key=lambda p: -p.positions_m[J["pelvis"], 1])
    assert left.positions_m[J["pelvis"], 1] == pytest.approx((320.0 - 160.0) * 2.1 / 500.0,
                                                             abs=1e-3)


def test_max_tracks_leaves_out_the_smaller_new_body_and_says_so():
    scene = Scene()
    scene.bodies = (standing_body(0.2, height_frac=0.3), standing_body(0.7, height_frac=0.6))
    perception = SkeletonPerception(scene, IdentityTracker(IdentitySettings(max_tracks=1)))
    result = perception.process(RGB, 0.0)
    (person,) = result.people
    assert result.over_max_tracks == 1
    assert person.positions_m is scene.bodies[1].positions_m  # the nearer (larger) one
