import numpy as np
import pytest

from calib.errors import DataError
from stream.cli import main as cli
from tests.train.label.conftest import scene_frame
from train.data.keypoints import Poses2D
from train.data.project import open_project
from train.data.tables import analysis_path, read_analysis, read_labels, write_analysis
from train.label.outliers import candidate_frames, extract_outliers, temporal_fit
from train.label.session import machinelabels_path

N = 90
SCORER = "DLC_resnet50_mouseNov24shuffle1_100"


def _poses() -> Poses2D:
    """Smooth tracks of nose/ear/tail (the moving square), with known glitches."""
    t = np.arange(N, dtype=np.float32)
    x = 10 + (t * 3) % 48
    data = np.zeros((N, 3, 3), np.float32)
    for j in range(3):
        data[:, j, 0] = x + 4 * j
        data[:, j, 1] = 16 + 0.1 * t
        data[:, j, 2] = 0.95
    data[40, 1, :2] += (30, 0)  # one-frame glitch of the ear: jumps at 40 and 41
    data[60, 2, 2] = 0.001  # the tail unsure at 60 and 75
    data[75, 2, 2] = 0.005
    return Poses2D(("nose", "ear", "tail"), data)


def test_detectors_find_exactly_the_glitches():
    poses = _poses()
    wraps = {i for i in range(1, N) if (3 * i) % 48 < (3 * (i - 1)) % 48}  # x jumps back 45 px
    assert set(candidate_frames(poses, "jump", epsilon=20)) == {40, 41} | wraps
    assert list(candidate_frames(poses, "uncertain", p_bound=0.01)) == [60, 75]
    fit = temporal_fit(poses, 0.01)
    smooth = [i for i in range(5, N - 5) if not any(abs(i - w) < 4 for w in wraps)]
    np.testing.assert_allclose(fit[smooth, 0], poses.xy[smooth, 0], atol=1e-4)
    assert 40 in set(candidate_frames(poses, "fitting", epsilon=20))
    assert 41 not in set(candidate_frames(poses, "fitting", epsilon=20))
    assert list(candidate_frames(poses, "manual", frames=[7, 3, 7])) == [3, 7]
    with pytest.raises(DataError, match="outside"):
        candidate_frames(poses, "manual", frames=[N])


@pytest.fixture
def analyzed(tiny_project, scene_video):
    path = analysis_path(scene_video, SCORER)
    write_analysis(_poses(), SCORER, path)
    return tiny_project, scene_video


def test_outliers_write_frames_and_machinelabels(analyzed):
    project, video = analyzed
    r = extract_outliers(project.root, video, algo="uncertain")
    assert r.frames == [60, 75] and r.table.name == f"scenes{SCORER}.h5"
    folder = project.labeled_data / "scenes"
    assert sorted(p.name for p in folder.glob("*.png")) == ["img60.png", "img75.png"]
    machine = read_labels(machinelabels_path(folder, 0))
    assert machine.scorer == SCORER and machine.images == [
        "labeled-data/scenes/img60.png", "labeled-data/scenes/img75.png"]
    np.testing.assert_allclose(machine.xy, _poses().xy[[60, 75]], rtol=1e-6)
    np.testing.assert_allclose(machine.likelihood[:, 2], [0.001, 0.005], rtol=1e-5)
    # a second run (manual) adds its frames to the same machinelabels file
    r2 = extract_outliers(project.root, video, algo="manual", frames=[5, 60])
    assert r2.frames == [5]
    assert len(read_labels(machinelabels_path(folder, 0))) == 3


def test_outliers_pick_numframes2pick_diverse_frames(analyzed):
    project, video = analyzed
    project.config.set("numframes2pick", 3)
    from train.data.config import save_config

    save_config(project.config)
    r = extract_outliers(project.root, video, algo="jump", epsilon=0.0)  # every frame moves
    assert r.candidates > 50 and len(r.frames) == 3
    assert sorted(f // 30 for f in r.frames) == [0, 1, 2]  # one per scene of the video


def test_outliers_crop_and_new_video_via_cli(tiny_project, tmp_path, capsys):
    from train.data.video import write_video

    other = tmp_path / "other.mp4"
    write_video(other, (scene_frame(i, N) for i in range(N)))
    table = tmp_path / "elsewhere.h5"
    write_analysis(_poses(), SCORER, table)
    assert cli(["outliers", str(tiny_project.root), str(other), "--table", str(table),
                "--algo", "manual", "--frames", "10,20"]) == 0
    assert "2 frames extracted [10, 20]" in capsys.readouterr().out
    project = open_project(tiny_project.root)
    keys = [k for k in project.config.video_sets if "other" in k]
    assert len(keys) == 1  # the video joined the project
    # with a crop, frames are cropped and predictions shifted
    project.config.raw["video_sets"][keys[0]]["crop"] = "8, 40, 4, 28"
    from train.data.config import save_config

    save_config(project.config)
    r = extract_outliers(project.root, other, table, algo="manual", frames=[30])
    machine = read_labels(machinelabels_path(project.labeled_data / "other", 0))
    np.testing.assert_allclose(machine.xy[-1], _poses().xy[30] - (8, 4), rtol=1e-6)
    assert r.frames == [30]


def test_missing_table_is_named(tiny_project, scene_video):
    with pytest.raises(DataError, match="no analysis table"):
        extract_outliers(tiny_project.root, scene_video)


def test_find_analysis_prefers_deeplabcut_names(tmp_path):
    from train.label.outliers import find_analysis

    video = tmp_path / "m1.mp4"
    for name in ("m1_groundtruth.h5", "m1DLC_x_filtered.h5", "m10DLC_y.h5", "m1DLC_x.h5"):
        (tmp_path / name).touch()
    assert find_analysis(video).name == "m1DLC_x.h5"
    (tmp_path / "m1DLC_z.h5").touch()
    with pytest.raises(DataError, match="pass --table"):
        find_analysis(video)


def test_fitting_finds_a_weak_models_errors_on_synthetic_motion(tmp_path):
    """A simulated weak network on the synthetic animal: 1 px noise everywhere, and in 30
    frames one bodypart 12-40 px off. The picked frames must be real errors (> 10 px)."""
    from train.data.config import save_config
    from train.data.project import create_project
    from train.synth.animal import BODYPARTS, SynthConfig, write_synthetic_video

    video, truth_path = write_synthetic_video(
        tmp_path / "synth.mp4", SynthConfig(width=160, height=120, n_frames=300), progress=False)
    truth, _ = read_analysis(truth_path)
    rng = np.random.default_rng(1)
    pred = truth.data.copy()
    pred[..., :2] += rng.normal(0, 1.0, pred[..., :2].shape)
    pred[..., 2] = rng.uniform(0.7, 1.0, pred.shape[:2])
    for f in rng.choice(len(pred), 30, replace=False):
        angle = rng.uniform(0, 2 * np.pi)
        pred[f, rng.integers(len(BODYPARTS)), :2] += rng.uniform(12, 40) * np.array(
            [np.cos(angle), np.sin(angle)])
    error = np.linalg.norm(pred[..., :2] - truth.xy, axis=2).max(axis=1)
    table = tmp_path / "synthDLC_weak.h5"
    write_analysis(Poses2D(BODYPARTS, pred), "DLC_weak", table)
    project = create_project("synth", [], list(BODYPARTS), working_directory=tmp_path)
    project.config.set("numframes2pick", 10)
    save_config(project.config)
    r = extract_outliers(project.root, video, table, algo="fitting", epsilon=10)
    assert len(r.frames) == 10
    precision = np.mean(error[r.frames] > 10)
    candidates = np.array(candidate_frames(Poses2D(BODYPARTS, pred), "fitting", epsilon=10))
    print(f"fitting: {len(candidates)} candidates, precision {np.mean(error[candidates] > 10):.2f}"
          f", recall {np.mean(np.isin(np.flatnonzero(error > 10), candidates)):.2f}; "
          f"picked {r.frames}: {precision:.0%} with true error > 10 px")
    assert precision >= 0.8
