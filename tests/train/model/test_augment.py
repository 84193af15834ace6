"""Augmentation: keypoints follow the pixels, flips swap sides, every op switches off."""

import math

import cv2
import numpy as np
import pytest
import torch

from calib.errors import ConfigError, DataError
from train.model.augment.config import AugmentConfig
from train.model.augment.geometry import sample_geometry, transform_keypoints, warp_images
from train.model.augment.pipeline import Augmenter

BODYPARTS = ("snout", "leftear", "rightear", "tailbase")
PAIRS = (("leftear", "rightear"),)
# one saturated RGB color per bodypart, far apart from each other and from the background
COLORS = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
H, W = 72, 96
OFF = {"rotation": 0.0, "scale": [1.0, 1.0], "translate": 0.0, "crop": 0.0, "hflip": 0.0,
       "brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "gaussian_blur": 0.0,
       "motion_blur": 0.0, "noise": 0.0, "jpeg": 0.0}
GEOMETRIC_ON = {"rotation": 30.0, "scale": [0.8, 1.3], "translate": 0.15, "crop": 0.5,
                "hflip": 0.5}
PHOTOMETRIC_ON = {"brightness": 0.3, "contrast": 0.4, "saturation": 0.5, "color_p": 1.0,
                  "gaussian_blur": 1.0, "motion_blur": 1.0, "noise": 1.0, "jpeg": 1.0}


def config(**on) -> AugmentConfig:
    return AugmentConfig.from_dict({**OFF, **on})


def dot_batch(n: int, seed: int = 0, radius: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gray-noise images with a disc of COLORS[k] centered on keypoint k (sub-pixel)."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, H, W, 3), np.float32)
    kp = np.empty((n, len(BODYPARTS), 2))
    for i in range(n):
        img = (0.3 + 0.1 * rng.random((H, W, 1))).repeat(3, axis=2).astype(np.float32)
        while True:  # keypoints well inside and at least 16 px apart
            pts = rng.uniform([10, 10], [W - 11, H - 11], (len(BODYPARTS), 2))
            d = np.linalg.norm(pts[:, None] - pts[None], axis=2) + np.eye(len(pts)) * 99
            if d.min() > 16:
                break
        for (x, y), color in zip(pts, COLORS.numpy(), strict=True):
            center = (int(round(x * 16)), int(round(y * 16)))
            cv2.circle(img, center, int(radius * 16), color.tolist(), -1, cv2.LINE_8, 4)
        images[i], kp[i] = img, pts
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(kp).float()


def color_near(images: torch.Tensor, i: int, x: float, y: float) -> torch.Tensor:
    """RGB colors ``(9, 3)`` of the pixels within one pixel of ``(x, y)`` in image i."""
    cx, cy = int(round(x)), int(round(y))
    patch = images[i, :, max(cy - 1, 0): cy + 2, max(cx - 1, 0): cx + 2]
    return patch.flatten(1).T


def test_config_round_trips_and_names_bad_keys():
    c = AugmentConfig(rotation=10.0, scale=(0.9, 1.1), jpeg=0.0)
    assert AugmentConfig.from_dict(c.to_dict()) == c
    assert AugmentConfig.from_dict(None) == AugmentConfig()
    assert AugmentConfig.from_dict({"scale": [1, 2]}).scale == (1.0, 2.0)
    with pytest.raises(ConfigError, match="rotaton"):
        AugmentConfig.from_dict({"rotaton": 5})
    with pytest.raises(ConfigError, match="train.yaml: .*'hflip'"):
        AugmentConfig.from_dict({"hflip": 1.5}, source="train.yaml")
    with pytest.raises(ConfigError, match="'scale'"):
        AugmentConfig.from_dict({"scale": [1.2, 0.8]})
    with pytest.raises(ConfigError, match="'enabled'"):
        AugmentConfig.from_dict({"enabled": "yes"})
    with pytest.raises(ConfigError, match="'motion_blur_kernel'"):
        AugmentConfig.from_dict({"motion_blur_kernel": 4})
    with pytest.raises(ConfigError, match="'nose'"):
        Augmenter(AugmentConfig(), BODYPARTS, (("nose", "tailbase"),))


def test_bad_batch_shapes_are_named():
    aug = Augmenter(AugmentConfig(), BODYPARTS)
    with pytest.raises(DataError, match="keypoints"):
        aug(torch.rand(2, 3, H, W), torch.rand(2, 3, 2))
    with pytest.raises(DataError, match="images"):
        aug(torch.rand(2, 1, H, W), torch.rand(2, 4, 2))


def test_warp_matches_pixel_center_convention_exactly():
    """An image holding its own pixel coordinates: after the warp, the value at output
    pixel (u, v) is the source point that the keypoint transform must send to (u, v)."""
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64),
                            torch.arange(W, dtype=torch.float64), indexing="ij")
    coords = torch.stack([xs, ys, torch.ones_like(xs)])[None].repeat(16, 1, 1, 1)
    geometry = sample_geometry(config(**GEOMETRIC_ON), 16, H, W, torch.Generator().manual_seed(1))
    assert geometry.flipped.any() and not geometry.flipped.all()
    out = warp_images(coords, geometry)
    inside = out[:, 2] > 1 - 1e-9  # not blended with the zero padding
    source = out[:, :2].permute(0, 2, 3, 1).reshape(16, -1, 2)
    mapped = transform_keypoints(source, geometry.matrix).reshape(16, H, W, 2)
    err = (mapped - torch.stack([xs, ys], -1))[inside].abs().max()
    assert inside.float().mean() > 0.5 and err < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_keypoints_land_on_their_dots(seed):
    images, kp = dot_batch(8, seed)
    aug = Augmenter(config(**GEOMETRIC_ON), BODYPARTS)  # no flip pairs: colors stay with names
    out, moved = aug(images, kp, generator=torch.Generator().manual_seed(seed))
    checked = 0
    for i in range(8):
        for k in range(len(BODYPARTS)):
            x, y = moved[i, k].tolist()
            if math.isnan(x):
                continue
            dist = (color_near(out, i, x, y) - COLORS[k]).norm(dim=1).min()
            assert dist < 0.1, (i, k, x, y)
            checked += 1
    assert checked >= 24
    assert not torch.equal(moved, kp)


def test_hflip_swaps_left_and_right():
    images, kp = dot_batch(4)
    aug = Augmenter(config(hflip=1.0), BODYPARTS, PAIRS)
    out, moved = aug(images, kp)
    assert torch.equal(out, images.flip(3))
    left, right = BODYPARTS.index("leftear"), BODYPARTS.index("rightear")
    # "leftear" after the flip is the mirror image of the animal's other ear ...
    assert torch.allclose(moved[:, left, 0], W - 1 - kp[:, right, 0])
    assert torch.equal(moved[:, left, 1], kp[:, right, 1])
    assert torch.allclose(moved[:, right, 0], W - 1 - kp[:, left, 0])
    # ... so it sits on the dot drawn for the right ear; unpaired parts keep their dots
    for i in range(4):
        x, y = moved[i, left].tolist()
        assert (color_near(out, i, x, y) - COLORS[right]).norm(dim=1).min() < 0.1
        x, y = moved[i, 0].tolist()
        assert (color_near(out, i, x, y) - COLORS[0]).norm(dim=1).min() < 0.1


def test_everything_off_is_the_identity():
    images, kp = dot_batch(4)
    kp[0, 1] = math.nan
    for c in (config(), AugmentConfig(enabled=False)):
        out, moved = Augmenter(c, BODYPARTS, PAIRS)(images, kp)
        assert torch.equal(out, images)
        assert torch.equal(moved.isnan(), kp.isnan())
        assert torch.equal(moved.nan_to_num(), kp.nan_to_num())


@pytest.mark.parametrize("op", [
    {"rotation": 20.0}, {"scale": [1.2, 1.3]}, {"translate": 0.2}, {"crop": 1.0},
    {"hflip": 1.0}, {"brightness": 0.3, "color_p": 1.0}, {"contrast": 0.5, "color_p": 1.0},
    {"saturation": 0.5, "color_p": 1.0}, {"gaussian_blur": 1.0}, {"motion_blur": 1.0},
    {"noise": 1.0}, {"jpeg": 1.0},
], ids=lambda op: next(iter(op)))
def test_each_op_alone_changes_the_batch(op):
    images, kp = dot_batch(4)
    out, moved = Augmenter(config(**op), BODYPARTS)(images, kp,
                                                    generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape and not torch.equal(out, images)
    assert 0 <= out.min() and out.max() <= 1
    geometric = next(iter(op)) in GEOMETRIC_ON
    assert torch.equal(moved, kp) != geometric


def test_photometric_ops_leave_keypoints_untouched():
    images, kp = dot_batch(6)
    kp[2, 3] = math.nan
    out, moved = Augmenter(config(**PHOTOMETRIC_ON), BODYPARTS, PAIRS)(images, kp)
    assert not torch.equal(out, images)
    assert torch.equal(moved.isnan(), kp.isnan())
    assert torch.equal(moved.nan_to_num(), kp.nan_to_num())


def test_nan_stays_nan_and_pushed_out_becomes_nan():
    images = torch.rand(2, 3, H, W)
    cx, cy = (W - 1) / 2, (H - 1) / 2
    kp = torch.tensor([[[cx + 5, cy - 3], [3.0, 4.0], [math.nan, math.nan], [W - 2.0, cy]],
                       [[cx, cy], [cx + 20, cy], [cx, cy + 20], [math.nan, math.nan]]])
    _, moved = Augmenter(config(scale=[2.0, 2.0]), BODYPARTS)(images, kp)
    expected = torch.stack([cx + 2 * (kp[..., 0] - cx), cy + 2 * (kp[..., 1] - cy)], -1)
    outside = (expected[..., 0] < -0.5) | (expected[..., 0] >= W - 0.5) | (
        expected[..., 1] < -0.5) | (expected[..., 1] >= H - 0.5) | expected.isnan().any(-1)
    assert outside.tolist() == [[False, True, True, True], [False, False, True, True]]
    assert moved[outside].isnan().all()
    assert torch.allclose(moved[~outside], expected[~outside], atol=1e-4)


def test_deterministic_from_seed_or_generator():
    images, kp = dot_batch(4)
    everything = AugmentConfig.from_dict({**AugmentConfig().to_dict(), **PHOTOMETRIC_ON})
    aug = Augmenter(everything, BODYPARTS, PAIRS)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(aug(images, kp))
    assert torch.equal(runs[0][0], runs[1][0])
    assert torch.equal(runs[0][1].nan_to_num(), runs[1][1].nan_to_num())
    state = torch.get_rng_state()
    a = aug(images, kp, generator=torch.Generator().manual_seed(3))
    b = aug(images, kp, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG was not used
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], runs[0][0])


@pytest.mark.gpu
def test_cuda_batch_matches_cpu_geometry():
    images, kp = dot_batch(8)
    aug = Augmenter(config(**GEOMETRIC_ON), BODYPARTS, PAIRS)
    cpu_out, cpu_kp = aug(images, kp, generator=torch.Generator().manual_seed(4))
    gpu_out, gpu_kp = aug(images.cuda(), kp.cuda(), generator=torch.Generator().manual_seed(4))
    assert gpu_out.device.type == "cuda"
    assert torch.allclose(gpu_kp.cpu(), cpu_kp, equal_nan=True, atol=1e-4)
    assert (gpu_out.cpu() - cpu_out).abs().max() < 1e-3
    full = Augmenter(AugmentConfig(), BODYPARTS, PAIRS)
    out, _ = full(images.cuda(), kp.cuda(), generator=torch.Generator().manual_seed(4))
    assert out.device.type == "cuda" and out.shape == images.shape
