"""The virtual arena: calibrated cameras around the synthetic animal's floor see it where
their projection says, and its ground truth triangulates back exactly."""

import cv2
import numpy as np
import pytest

from calib.triangulate import triangulate
from train.synth.animal import SynthConfig, SyntheticAnimal
from train.synth.arena import ArenaView, arena_calibration, floor_config, world_to_floor


@pytest.fixture(scope="module")
def views():
    calibration = arena_calibration(["a", "b", "c"], (320, 240), seed=1)
    animal = SyntheticAnimal(floor_config(20, seed=3))
    return [ArenaView(camera, animal) for camera in calibration.cameras]


def _patch(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return cv2.getRectSubPix(image.astype(np.float32), (5, 5), tuple(map(float, xy))).mean((0, 1))


def test_each_camera_sees_the_floor_where_it_projects_the_keypoints(views):
    near, shifted = [], []
    for view in views:
        for i in (0, 10, 19):
            image, floor = view.render(i), view.animal.render(i)
            pixels, texture = view.keypoints(i), world_to_floor(view.world()[i])
            assert view.visible(i).sum() >= len(pixels) - 1  # the arena fills the view
            for k in np.flatnonzero(view.visible(i)):
                seen = _patch(image, pixels[k])
                near.append(np.abs(seen - _patch(floor, texture[k])).mean())
                shifted.append(np.abs(seen - _patch(floor, texture[k] + [12, 0])).mean())
    # the same floor patch within a few grey levels; 12 floor pixels away, far from it
    assert np.median(near) < 8 and np.median(shifted) > 3 * np.median(near)


def test_ground_truth_triangulates_back_to_the_floor(views):
    pixels = np.stack([view.camera.project(view.world()) for view in views])
    result = triangulate([view.camera for view in views], pixels)
    np.testing.assert_allclose(result.xyz, views[0].world(), atol=1e-6)
    assert np.all(result.reprojection_error < 1e-6)
    poses = views[1].poses()
    np.testing.assert_allclose(poses.data[..., :2], pixels[1])


def test_floor_clip_of_another_size_is_refused(views):
    small = SyntheticAnimal(SynthConfig(width=64, height=48, n_frames=2))
    with pytest.raises(ValueError, match="must be 320x240"):
        ArenaView(views[0].camera, small)
