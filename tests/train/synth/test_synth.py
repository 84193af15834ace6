"""The synthetic animal: determinism, truth against the drawn shapes, files and project."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calib.errors import ConfigError
from train.synth.animal import (
    BODYPARTS,
    FLIP_PAIRS,
    SKELETON,
    SynthConfig,
    SyntheticAnimal,
    groundtruth_path,
    make_synthetic_project,
    write_synthetic_video,
)
from train.synth.look import COLLAR, EAR, NOSE, TAIL_TIP

CLEAN = dict(lighting=0.0, noise=0.0)  # exact colors: no light drift, no sensor noise


@pytest.fixture(scope="module")
def clean_animal() -> SyntheticAnimal:
    return SyntheticAnimal(SynthConfig(n_frames=400, seed=2, **CLEAN))


def test_names_are_consistent():
    assert len(BODYPARTS) >= 5 and len(set(BODYPARTS)) == len(BODYPARTS)
    for a, b in SKELETON + FLIP_PAIRS:
        assert a in BODYPARTS and b in BODYPARTS


def test_render_is_deterministic_and_random_access():
    config = SynthConfig(n_frames=60, seed=7)
    a, b = SyntheticAnimal(config), SyntheticAnimal(config)
    later = a.render(50)
    assert a.render(10).tobytes() == b.render(10).tobytes()
    assert later.tobytes() == b.render(50).tobytes()
    assert np.array_equal(a.keypoints(33), b.keypoints(33))
    other = SyntheticAnimal(SynthConfig(n_frames=60, seed=8))
    assert a.render(10).tobytes() != other.render(10).tobytes()
    frame = a.render(0)
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8


def test_out_of_range_frame():
    animal = SyntheticAnimal(SynthConfig(n_frames=5))
    with pytest.raises(IndexError, match="frame 5"):
        animal.render(5)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_animal_stays_inside_the_frame(seed):
    config = SynthConfig(n_frames=300, seed=seed, texture=0.0, **CLEAN)
    animal = SyntheticAnimal(config)
    floor = animal.render(0).copy()
    kp = np.stack([animal.keypoints(i) for i in range(300)])
    assert kp.min() >= 2 and kp[..., 0].max() <= 317 and kp[..., 1].max() <= 237
    empty = SyntheticAnimal(SynthConfig(n_frames=1, seed=seed, texture=0.0, **CLEAN))
    floor = empty._floor
    for i in range(0, 300, 7):
        drawn = (animal.render(i) != floor).any(axis=2)
        border = np.concatenate([drawn[0], drawn[-1], drawn[:, 0], drawn[:, -1]])
        assert not border.any(), f"frame {i} touches the border"


def test_keypoints_sit_on_their_drawn_shapes(clean_animal):
    """The snout pixel is nose-colored and the nose's pixels center on it (no half-pixel
    convention slip); visible ears, neck and tail tip sit on their colors (a few may
    touch an anti-aliased edge), hidden ones never show them."""
    colors = {1: EAR, 2: EAR, 3: COLLAR, 6: TAIL_TIP}
    hits = {k: 0 for k in colors}
    shown = {k: 0 for k in colors}
    offsets = []
    for i in range(0, len(clean_animal), 3):
        img = clean_animal.render(i)
        kp, vis = clean_animal.keypoints(i), clean_animal.visible(i)
        x, y = np.round(kp[0]).astype(int)
        assert tuple(img[y, x]) == NOSE
        ys, xs = np.nonzero(np.all(img == NOSE, axis=2))
        offsets.append((xs.mean() - kp[0, 0], ys.mean() - kp[0, 1]))
        for k, color in colors.items():
            x, y = np.round(kp[k]).astype(int)
            if vis[k]:
                shown[k] += 1
                hits[k] += tuple(img[y, x]) == color
            else:
                assert tuple(img[y, x]) != color, f"frame {i}: hidden {BODYPARTS[k]} shows"
    for k in colors:
        assert hits[k] >= 0.95 * shown[k], BODYPARTS[k]
    offsets = np.array(offsets)  # pixel-grid quantization of a ~3 px disc, unbiased
    assert np.abs(offsets).max() < 0.5 and np.abs(offsets.mean(axis=0)).max() < 0.1


def test_occlusion_happens_and_can_be_turned_off(clean_animal):
    vis = np.stack([clean_animal.visible(i) for i in range(len(clean_animal))])
    names = list(BODYPARTS)
    for part in ("leftear", "rightear", "neck"):
        assert 0 < (~vis[:, names.index(part)]).sum() < 0.3 * len(vis), part
    assert vis[:, names.index("snout")].all()
    calm = SyntheticAnimal(SynthConfig(n_frames=400, seed=2, occlusion=0.0))
    vis = np.stack([calm.visible(i) for i in range(400)])
    assert vis[:, :4].all()


def test_lighting_drifts():
    animal = SyntheticAnimal(SynthConfig(n_frames=300, seed=1, noise=0.0, lighting=0.3))
    means = [animal.render(i).mean() for i in range(0, 300, 30)]
    assert max(means) - min(means) > 5


@pytest.mark.parametrize("field, value", [
    ("width", 10), ("height", 33), ("n_frames", 0), ("seed", -1), ("fps", 0.0),
    ("lighting", 2.0), ("body_length", "big"), ("width", 320.0),
])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        SynthConfig(**{field: value})


def test_video_and_groundtruth_round_trip(tmp_path):
    from train.data.tables import read_analysis
    from train.data.video import VideoReader

    config = SynthConfig(width=160, height=120, n_frames=40, seed=2)
    video, truth = write_synthetic_video(tmp_path / "clip.mp4", config, progress=False)
    assert truth == groundtruth_path(video) == tmp_path / "clip_groundtruth.h5"
    animal = SyntheticAnimal(config)
    with VideoReader(video) as reader:
        frames = list(reader)
    assert len(frames) == 40 and frames[0].shape == (120, 160, 3)
    # compressed, so close to the rendering but not equal
    diff = np.abs(frames[17].astype(int) - animal.render(17).astype(int))
    assert 0 < diff.mean() < 6
    poses, scorer = read_analysis(truth)
    assert scorer == "groundtruth" and poses.bodyparts == BODYPARTS
    expected_xy = np.stack([animal.keypoints(i) for i in range(40)])
    expected_vis = np.stack([animal.visible(i) for i in range(40)])
    assert np.array_equal(poses.xy.astype(np.float64), expected_xy)  # exact, not approximate
    assert np.array_equal(poses.likelihood, expected_vis.astype(np.float32))


def test_synthetic_project(tmp_path):
    from train.data.project import open_project
    from train.data.video import VideoReader

    config = SynthConfig(width=160, height=120, n_frames=90, seed=4)
    project = make_synthetic_project(tmp_path, config, n_labeled=15, progress=False)
    again = open_project(project.config_path)
    assert again.config.bodyparts == BODYPARTS
    assert again.config.skeleton == SKELETON and again.config.flip_pairs == FLIP_PAIRS
    videos = again.videos()
    assert len(videos) == 1 and videos[0].exists()
    labels = again.load_labels()
    assert len(labels) == 15 and labels.scorer == "synthetic"
    animal = SyntheticAnimal(config)
    with VideoReader(videos[0]) as reader:
        decoded = list(reader)
    indices = [int(img.rsplit("img", 1)[1].split(".")[0]) for img in labels.images]
    assert len(set(indices)) == 15 and indices == sorted(indices)
    assert indices[-1] >= 60  # spread over the clip
    for row, i in enumerate(indices):
        png = cv2.imread(str(again.root / labels.images[row]))
        assert np.array_equal(png, decoded[i])  # the mp4's frame, compression included
        truth = animal.keypoints(i)
        truth[~animal.visible(i)] = np.nan
        assert np.array_equal(labels.xy[row], truth, equal_nan=True)


def test_cli_writes_video_and_truth(tmp_path, capsys):
    from stream.cli import main

    assert main(["synth", str(tmp_path), "--frames", "12", "--size", "128x96", "--seed", "5"]) == 0
    out = capsys.readouterr().out.split()
    assert out == [str(tmp_path / f) for f in
                   ("synth.mp4", "synth_groundtruth.h5", "synth_preview.png")]
    assert cv2.imread(out[2]).shape == (2 * 96, 3 * 128, 3)
    with pytest.raises(SystemExit):
        main(["synth", str(tmp_path), "--size", "big"])
    assert main(["synth", str(tmp_path), "--size", "127x96"]) == 1  # odd width: ConfigError
