"""Horizontal flips along the trainer's own path (crops around the animal, the augmenter,
the training targets): a flipped sample teaches the mirror image with left and right
swapped, and a project without left/right pairs is never flipped by default."""

import numpy as np
import torch

from train.model.augment.config import AugmentConfig
from train.model.augment.geometry import sample_geometry
from train.model.augment.pipeline import Augmenter
from train.model.dataset import LabeledImages, crop_batch
from train.model.defaults import choose_config
from train.model.targets import make_targets
from train.model.trainer import make_augmenter, prepare_training

BODYPARTS = ("snout", "leftear", "rightear", "tailbase")
PAIRS = (("leftear", "rightear"),)
SWAP = [0, 2, 1, 3]  # the index of each bodypart's mirror-image partner
FLIP_ONLY = {"rotation": 0.0, "scale": [1.0, 1.0], "translate": 0.0, "crop": 0.0, "hflip": 1.0,
             "brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "gaussian_blur": 0.0,
             "motion_blur": 0.0, "noise": 0.0, "jpeg": 0.0}


def _labeled_frames(n: int = 6) -> LabeledImages:
    """Frames of 240 x 320 noise with an animal of 4 points (one frame leaves an ear
    unlabeled)."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(n)]
    keypoints = rng.uniform(80, 160, (n, 4, 2)).astype(np.float32)  # fits a 128 px crop
    keypoints[0, 2] = np.nan
    return LabeledImages([f"f{i}.png" for i in range(n)], images, keypoints)


def test_flipped_sample_targets_are_the_mirrored_targets_with_sides_swapped():
    data = _labeled_frames()
    crops, kps = crop_batch(data, np.arange(len(data)), (128, 192), 16.0,
                            np.random.default_rng(1))
    images = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255
    kp = torch.from_numpy(kps)
    aug = Augmenter(AugmentConfig.from_dict(FLIP_ONLY), BODYPARTS, PAIRS)
    flipped_images, flipped_kp = aug(images, kp)
    width = images.shape[3]

    assert torch.equal(flipped_images, images.flip(3))
    # keypoints: x -> W - 1 - x (pixel centers at integers), names swapped
    mirrored = kp[:, SWAP].clone()
    mirrored[..., 0] = width - 1 - mirrored[..., 0]
    assert torch.allclose(flipped_kp, mirrored, equal_nan=True)
    assert torch.isnan(flipped_kp[0, 1]).all()  # the unlabeled right ear is now the left one

    # targets at the default CPU geometry (stride 4): the flipped sample's targets are the
    # original targets mirrored, the leftear channel holding what rightear held
    args = ((32, 48), 4, 6.0, 7.2801, 16.0)
    before, after = make_targets(kp, *args), make_targets(flipped_kp, *args)
    assert torch.allclose(after.heatmap, before.heatmap[:, SWAP].flip(3), atol=1e-6)
    assert torch.equal(after.valid, before.valid[:, SWAP])
    mask = after.locref_mask.reshape(6, 4, 2, 32, 48)
    assert torch.equal(mask, before.locref_mask.reshape(6, 4, 2, 32, 48)[:, SWAP].flip(4))
    # location refinement where it is trained (near labeled points): dx mirrored, dy kept
    loc_before = before.locref.reshape(6, 4, 2, 32, 48)[:, SWAP].flip(4) * mask
    loc_after = after.locref.reshape(6, 4, 2, 32, 48) * mask
    assert mask.sum() > 0
    assert torch.allclose(loc_after[:, :, 0], -loc_before[:, :, 0], atol=1e-5)
    assert torch.allclose(loc_after[:, :, 1], loc_before[:, :, 1], atol=1e-5)

def _flips(augment: Augmenter, n: int = 256) -> int:
    """How many of `n` samples the augmenter's geometry would mirror."""
    geometry = sample_geometry(augment.config, n, 64, 64, torch.Generator().manual_seed(0))
    return int(geometry.flipped.sum())


def test_the_trainer_flips_only_projects_with_left_right_pairs(blob_project, openfield,
                                                               tmp_path):
    import shutil

    run = prepare_training(blob_project, None, 1, False, None, {"device": "cpu"})
    assert run.flip_pairs == ()  # red/green/blue: no sides
    assert _flips(make_augmenter(run.config, run.project.config.bodyparts, run.flip_pairs)) == 0
    assert choose_config({}, torch.device("cuda"), run.train.keypoints, (64, 96), ())[0].augment[
        "hflip"] == 0  # not on a GPU either

    # openfield's ears are a pair; where flips are on (a GPU's default), they swap
    shutil.copytree(openfield, tmp_path / "of")
    run = prepare_training(tmp_path / "of", None, 1, False, None, {"device": "cpu"})
    gpu, _ = choose_config({}, torch.device("cuda"), run.train.keypoints, (480, 640),
                           run.flip_pairs)
    augment = make_augmenter(gpu, run.project.config.bodyparts, run.flip_pairs)
    assert run.flip_pairs == PAIRS and augment.flip_perm == SWAP
    assert 64 < _flips(augment) < 192  # about half the samples
