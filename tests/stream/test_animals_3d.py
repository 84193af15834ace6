"""Several animals in 3D: epipolar distance, matching animals across cameras whose rows
disagree, triangulating each animal, and the multi-animal 3D table."""

import numpy as np

from calib.calibration import save_calibration
from calib.epipolar import epipolar_distance, match_animals
from calib.virtual_rig import WALKING_PARTS, make_rig, walking_animal
from stream import messages as m
from stream.rig import TriangulateSpec
from stream.triangulation import Lifter
from train.data.keypoints import Poses3D
from train.data.tables import read_poses3d, write_poses3d


def _two_animals(n=12):
    rig, a2w = make_rig(3, seed=2)
    first = walking_animal(a2w, n)
    # the same walk half a circle ahead, a little higher
    second = np.roll(first, n // 2, axis=0) + (a2w[:3, :3] @ np.array([0.0, 0.0, 30.0]))
    return rig, np.stack([first, second], axis=1)  # (n, 2, K, 3)


def test_epipolar_distance_is_zero_for_true_pairs_and_large_for_others():
    rig, world = _two_animals()
    a, b = rig.cameras[0], rig.cameras[1]
    pa, pb = a.project(world[0, 0]), b.project(world[0, 0])
    assert np.nanmax(epipolar_distance(a, b, pa, pb)) < 1e-6
    other = b.project(world[0, 1])
    assert np.nanmean(epipolar_distance(a, b, pa, other)) > 5.0


def test_lifter_matches_animals_across_cameras_before_triangulating(tmp_path):
    rig, world = _two_animals()
    calibration = save_calibration(rig, tmp_path / "calibration.toml")
    names = rig.names
    spec = TriangulateSpec("tri", ["sync"], str(calibration), pcutoff=0.5,
                           calib_cameras=names, cameras=names)
    lifter = Lifter(spec)
    rng = np.random.default_rng(0)
    for f in range(len(world)):
        views = []
        for c, cam in enumerate(rig.cameras):
            px = cam.project(world[f].reshape(-1, 3)).reshape(2, len(WALKING_PARTS), 2)
            px += rng.normal(0, 0.3, px.shape)
            rows = [1, 0] if (c + f) % 2 else [0, 1]  # each camera its own order
            views.append(np.concatenate([px, np.full((2, len(WALKING_PARTS), 1), 0.9)],
                                        -1)[rows])
        poses = np.stack(views).astype(np.float32)
        group = m.Group2DMessage("sync", f, f, 0, "s", tuple(names), tuple(names),
                                 WALKING_PARTS, poses, np.full(3, f), np.zeros(3, np.int64),
                                 ("a1", "a2"))
        out = lifter(group)
        assert out.individuals == ("a1", "a2") and out.xyz.shape == (2, len(WALKING_PARTS), 3)
        first = [1, 0] if f % 2 else [0, 1]  # 3D rows follow the first camera's rows
        np.testing.assert_allclose(out.xyz, world[f][first], atol=3.0)
        assert (out.n_cameras == 3).all()


def test_animals_keep_their_3d_rows_when_the_first_camera_is_absent(tmp_path):
    """Live groups may lack the first camera, or it may miss an animal: the others' rows,
    as last matched, keep each animal in its 3D row."""
    rig, world = _two_animals()
    calibration = save_calibration(rig, tmp_path / "calibration.toml")
    names = rig.names
    lifter = Lifter(TriangulateSpec("tri", ["sync"], str(calibration), pcutoff=0.5,
                                    calib_cameras=names, cameras=names))
    k = len(WALKING_PARTS)
    for f in range(6):
        views = []
        for c, cam in enumerate(rig.cameras):
            px = cam.project(world[f].reshape(-1, 3)).reshape(2, k, 2)
            view = np.concatenate([px, np.full((2, k, 1), 0.9)], -1)[[1, 0] if c else [0, 1]]
            views.append(view)  # cameras 1 and 2 list the animals the other way round
        poses = np.stack(views).astype(np.float32)
        if f >= 2:
            poses[0, f % 2] = np.nan  # the first camera misses one animal ...
        if f >= 4:
            poses[0] = np.nan  # ... then is absent
        group = m.Group2DMessage("sync", f, f, 0, "s", tuple(names), tuple(names),
                                 WALKING_PARTS, poses, np.full(3, f), np.zeros(3, np.int64),
                                 ("a1", "a2"))
        out = lifter(group)
        np.testing.assert_allclose(out.xyz, world[f], atol=1.0)
        expected = np.full((2, k), 3 if f < 4 else 2)
        if 2 <= f < 4:
            expected[f % 2] = 2
        np.testing.assert_array_equal(out.n_cameras, expected)


def test_match_leaves_out_an_animal_seen_by_one_camera_only():
    rig, world = _two_animals()
    pixels = np.stack([cam.project(world[0].reshape(-1, 3)).reshape(2, -1, 2)
                       for cam in rig.cameras[:2]])
    visible = np.ones(pixels.shape[:3], bool)
    visible[1, 1] = False  # camera 1 does not see the second animal
    order = match_animals(rig.cameras[:2], pixels, visible, 10.0)
    assert order.tolist() == [[0, 1], [0, -1]]


def test_multi_animal_3d_table_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    shape = (5, 2, 3)
    poses = Poses3D(("a", "b", "c"), rng.random((*shape, 3)), rng.random(shape),
                    rng.random(shape), rng.integers(0, 4, shape), ("m1", "m2"))
    path = write_poses3d(poses, "tri", tmp_path / "x_3d.h5")
    back, scorer = read_poses3d(path)
    assert scorer == "tri" and back.individuals == ("m1", "m2")
    np.testing.assert_allclose(back.xyz, poses.xyz, rtol=1e-6)
    np.testing.assert_array_equal(back.n_cameras, poses.n_cameras)
