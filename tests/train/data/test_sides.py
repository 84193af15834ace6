from pathlib import Path

import pytest

from train.data.config import ProjectConfig
from train.data.sides import flip_pairs, recognise_flip_pairs


@pytest.mark.parametrize("bodyparts, pairs", [
    (("snout", "leftear", "rightear", "tailbase"), (("leftear", "rightear"),)),
    (("nose", "left_paw", "right_paw"), (("left_paw", "right_paw"),)),
    (("Lhand", "Rhand", "Lfoot"), (("Lhand", "Rhand"),)),
    (("hand_l", "hand_r", "elbow_L", "elbow_R"), (("hand_l", "hand_r"), ("elbow_L", "elbow_R"))),
    (("Left Ear", "Right Ear", "l.eye", "r.eye"), (("Left Ear", "Right Ear"), ("l.eye", "r.eye"))),
    (("FrontLeftPaw", "FrontRightPaw", "HindLeftPaw", "HindRightPaw"),
     (("FrontLeftPaw", "FrontRightPaw"), ("HindLeftPaw", "HindRightPaw"))),
    (("handL", "handR"), (("handL", "handR"),)),
])
def test_left_right_pairs_are_recognised(bodyparts, pairs):
    assert recognise_flip_pairs(bodyparts) == pairs


@pytest.mark.parametrize("bodyparts", [
    ("Hand", "Finger1", "Tongue", "Joystick1", "Joystick2"),  # DeepLabCut's Reaching
    ("leg", "reg", "rear", "lear", "ring", "lung"),  # l/r letters inside words are no side
    ("leftear", "nose"),  # a side without its partner
])
def test_names_without_a_partner_are_no_pair(bodyparts):
    assert recognise_flip_pairs(bodyparts) == ()


def test_declared_pairs_win_over_names():
    def config(**extra) -> ProjectConfig:
        return ProjectConfig(Path("config.yaml"), "t", "s", "d", {}, ("leftear", "rightear", "a",
                             "b"), (0.95,), 0, **extra)

    assert flip_pairs(config(flip_pairs=(("a", "b"),))) == (("a", "b"),)
    assert flip_pairs(config()) == (("leftear", "rightear"),)
