"""Augmentation: keypoints follow the pixels, flips swap sides, every op switches off."""

import math

import pytest
import torch

from train.augment import AugmentConfig, Augmenter
from train.errors import ConfigError

BODYPARTS = ("snout", "leftear", "rightear", "tailbase")
PAIRS = (("leftear", "rightear"),)


def test_config_round_trips_and_names_bad_keys():
    config = AugmentConfig(rotation=10.0, scale=(0.9, 1.1), jpeg=0.0)
    assert AugmentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="rotaton"):
        AugmentConfig.from_dict({"rotaton": 5})
    with pytest.raises(ConfigError, match="train.yaml: .*'hflip'"):
        AugmentConfig.from_dict({"hflip": 1.5}, source="train.yaml")


def test_shapes_nan_and_determinism():
    torch.manual_seed(0)
    images = torch.rand(4, 3, 64, 80)
    kp = torch.rand(4, 4, 2) * torch.tensor([79.0, 63.0])
    kp[1, 3] = math.nan  # tailbase: no flip partner
    aug = Augmenter(AugmentConfig(), BODYPARTS, PAIRS)
    out1, kp1 = aug(images, kp, generator=torch.Generator().manual_seed(5))
    out2, kp2 = aug(images, kp, generator=torch.Generator().manual_seed(5))
    assert out1.shape == images.shape and kp1.shape == kp.shape
    assert torch.equal(out1, out2) and torch.equal(kp1.isnan(), kp2.isnan())
    assert kp1[1, 3].isnan().all()
