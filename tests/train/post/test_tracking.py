"""Tracking several animals: tracklets, stitching, identity, and the CLEAR MOT / IDF1
scores, on a synthetic herd's exact truth with shuffled slots and dropouts."""

import numpy as np
import pytest

from stream.cli import main as cli
from train.data.keypoints import Poses2D
from train.data.tables import read_analysis, write_analysis
from train.post.track_metrics import tracking_scores
from train.post.tracking import BIG, OnlineTracker, TrackConfig, distances, track_poses
from train.synth.animal import SynthConfig
from train.synth.herd import SyntheticHerd


@pytest.fixture(scope="module")
def truth() -> Poses2D:
    herd = SyntheticHerd(SynthConfig(width=200, height=160, n_frames=240, seed=4,
                                     body_length=0.22, noise=0.0, lighting=0.0), 3)
    return herd.poses()


def _detections(truth: Poses2D, seed: int, drop: float = 0.0,
                identity: bool = False) -> np.ndarray:
    """What an untracked model gives: visible parts with a little noise, slots shuffled
    per frame (kept in identity order with `identity`), some animals missing."""
    rng = np.random.default_rng(seed)
    data = truth.data.copy()
    data[..., :2] += rng.normal(0, 0.7, data[..., :2].shape)
    data[data[..., 2] == 0] = np.nan
    data[..., 2] = np.where(np.isfinite(data[..., 0]), 0.9, np.nan)
    gone = rng.random(data.shape[:2]) < drop
    data[gone] = np.nan
    if not identity:
        for f in range(len(data)):
            data[f] = data[f, rng.permutation(data.shape[1])]
    return data


def test_perfect_tracks_score_perfectly(truth):
    scores = tracking_scores(truth.data, truth.data)
    assert scores["id_switches"] == 0 and scores["mota"] == 1.0 and scores["idf1"] == 1.0
    swapped = truth.data.copy()
    swapped[120:, [0, 1]] = swapped[120:, [1, 0]]
    scores = tracking_scores(truth.data, swapped)
    assert scores["id_switches"] == 2 and scores["idf1"] < 1.0


def test_tracker_recovers_identities_from_shuffled_slots(truth):
    det = Poses2D(truth.bodyparts, _detections(truth, 0, drop=0.05), truth.individuals)
    raw = tracking_scores(truth.data, det.data)
    tracked = track_poses(det, config=TrackConfig(max_distance=15.0, max_gap=8))
    assert tracked.individuals == truth.individuals
    scores = tracking_scores(truth.data, tracked.data)
    assert raw["id_switches"] > 50  # the slots alone say nothing about who is who
    assert scores["id_switches"] <= 6 and scores["idf1"] > 0.85, scores


def test_identity_keeps_names_through_dropouts(truth):
    det = Poses2D(truth.bodyparts, _detections(truth, 1, drop=0.3, identity=True),
                  truth.individuals)
    tracked = track_poses(det, config=TrackConfig(max_distance=15.0, max_gap=2),
                          identity=True)
    scores = tracking_scores(truth.data, tracked.data)
    # 30% of the animals are missing: IDF1 cannot pass 2 * 0.7 / 1.7 = 0.82
    assert scores["id_switches"] == 0 and scores["idf1"] > 0.8, scores


def test_track_command_writes_dlc_tracks_table(truth, tmp_path, capsys):
    det = Poses2D(truth.bodyparts, _detections(truth, 2), truth.individuals)
    table = write_analysis(det, "DLC_Resnet18_synthNov27shuffle1_snapshot_010",
                           tmp_path / "clipDLC_Resnet18_synthNov27shuffle1_snapshot_010.h5")
    assert cli(["track", str(table), "--max-distance", "15"]) == 0
    out = capsys.readouterr().out.split()[-1]
    assert out.endswith("snapshot_010_el.h5")
    tracked, scorer = read_analysis(out)
    assert scorer.startswith("DLC_") and tracked.individuals == truth.individuals
    assert tracking_scores(truth.data, tracked.data)["idf1"] > 0.8


def test_distances_are_mean_over_shared_parts():
    """Every pair at once: the mean distance over the parts both poses have, BIG when
    they share none (as a loop over pairs and parts would give)."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 100, (4, 5, 3)), rng.uniform(0, 100, (3, 5, 3))
    a[rng.random((4, 5)) < 0.3] = np.nan
    b[rng.random((3, 5)) < 0.3] = np.nan
    a[0, :, :] = np.nan  # shares nothing
    got = distances(a, b)
    for i in range(4):
        for j in range(3):
            d = np.linalg.norm(a[i, :, :2] - b[j, :, :2], axis=1)
            d = d[np.isfinite(d)]
            assert got[i, j] == pytest.approx(d.mean() if d.size else BIG)
    assert (got[0] == BIG).all()


def test_online_tracker_keeps_rows_frame_to_frame(truth):
    det = _detections(truth, 5, drop=0.02)
    tracker = OnlineTracker(3, TrackConfig(max_distance=15.0, max_gap=3))
    rows = np.stack([tracker.update(f, det[f]) for f in range(len(det))])
    scores = tracking_scores(truth.data, rows)
    assert scores["id_switches"] <= 6 and scores["idf1"] > 0.8, scores


def test_filter_and_labeled_video_of_tracked_animals(truth, tmp_path):
    from train.data.video import write_video
    from train.post.filtering import filter_tables
    from train.post.labeled_video import labeled_video

    n = 20
    small = Poses2D(truth.bodyparts, truth.data[:n], truth.individuals)
    table = write_analysis(small, "DLC_x", tmp_path / "clipDLC_x_el.h5")
    (filtered,) = filter_tables([table], plot=True)
    assert filtered.name == "clipDLC_x_el_filtered.h5" and filtered.with_suffix(".png").exists()
    back, _ = read_analysis(filtered)
    assert back.individuals == truth.individuals
    video = tmp_path / "clip.mp4"
    write_video(video, [np.zeros((160, 200, 3), np.uint8)] * n)
    out = labeled_video(video, filtered, progress=False)
    assert out.exists()
