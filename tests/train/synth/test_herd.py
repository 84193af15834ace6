"""Several synthetic animals: crossing, touching, occluding, exact per-individual truth."""

import numpy as np
import pytest

from calib.errors import ConfigError
from stream.cli import main as cli
from train.data.project import open_project
from train.data.tables import read_analysis
from train.synth.animal import BODYPARTS, SynthConfig
from train.synth.herd import SyntheticHerd


@pytest.fixture(scope="module")
def herd() -> SyntheticHerd:
    return SyntheticHerd(SynthConfig(width=160, height=120, n_frames=150, seed=2,
                                     body_length=0.25, noise=0.0, lighting=0.0), 3,
                         distinct=True)


def test_animals_touch_and_hide_each_other(herd):
    contact = np.array([herd.contact(i) for i in range(len(herd))])
    assert contact.any() and not contact.all()
    truth = herd.poses()
    assert truth.individuals == ("animal1", "animal2", "animal3")
    assert truth.data.shape == (150, 3, len(BODYPARTS), 3)
    own = np.stack([np.stack([a.visible(i) for a in herd.animals]) for i in range(len(herd))])
    by_others = own & (truth.data[..., 2] == 0)
    assert by_others.any(), "some parts must be hidden under another animal"
    # a part hidden by another animal lies where that animal, drawn above, covers the frame
    f, a, k = np.argwhere(by_others)[0]
    order = list(herd.order(f))
    above = order[order.index(a) + 1:]
    x, y = np.round(herd.keypoints(f)[a, k]).astype(int)
    assert any(herd._coverage(herd.animals[b], f)[y, x] for b in above)


def test_same_seed_same_pixels_and_truth(herd):
    again = SyntheticHerd(herd.config, 3, distinct=True)
    for i in (0, 77, 149):
        np.testing.assert_array_equal(again.render(i), herd.render(i))
        np.testing.assert_array_equal(again.keypoints(i), herd.keypoints(i))
        np.testing.assert_array_equal(again.visible(i), herd.visible(i))
    other = SyntheticHerd(herd.config, 3, distinct=False)
    assert not np.array_equal(other.render(5), herd.render(5))  # marks change the look


def test_rejects_bad_animal_counts():
    with pytest.raises(ConfigError, match="animals"):
        SyntheticHerd(SynthConfig(n_frames=2), 0)


def test_synth_multianimal_project_via_cli(tmp_path, capsys):
    assert cli(["synth", str(tmp_path), "--frames", "40", "--size", "160x120", "--animals", "2",
                "--distinct", "--project", "--labeled", "5", "--seed", "1"]) == 0
    video, truth_path, preview, config = capsys.readouterr().out.split()
    project = open_project(config)
    c = project.config
    assert c.multianimal and c.identity and c.individuals == ("animal1", "animal2")
    labels = project.load_labels()
    assert labels.xy.shape == (5, 2, len(BODYPARTS), 2)
    truth, scorer = read_analysis(truth_path)
    assert scorer == "groundtruth" and truth.individuals == c.individuals
    frames = [int(img.split("img")[1][:4]) for img in labels.images]
    xy = truth.data[frames, ..., :2].astype(np.float64)
    xy[truth.data[frames, ..., 2] == 0] = np.nan
    np.testing.assert_array_equal(labels.xy, xy)
