"""Batch analysis of damaged videos loses no row: a frame that does not decode is a row of
NaN at its own index, the other rows are the poses of their own frames, and the command's
summary and exit status say how many frames and which."""

from __future__ import annotations

import numpy as np
import pytest

from calib.errors import DataError
from stream.batch import analyze_videos
from stream.cli import main as cli
from stream.scale.job import analyze_job
from tests.conftest import damage_middle, truncate_half, write_moving_video
from train.data.tables import analysis_path, read_analysis
from train.data.video import VideoReader
from train.model.artifact import PoseModel


def _expected_poses(model_path, original) -> np.ndarray:
    with VideoReader(original) as reader:
        frames = np.stack(list(reader))
    return PoseModel(model_path)(frames)


def _check_table(table, expected: np.ndarray, missing: list[int]) -> None:
    poses, _ = read_analysis(table)
    assert poses.n_frames == len(expected)  # never a shorter table
    empty = [i for i in range(poses.n_frames) if np.isnan(poses.data[i]).all()]
    assert empty == missing
    after = np.arange(missing[-1] + 1, len(expected))  # frames after the damage: not shifted
    np.testing.assert_allclose(poses.data[after], expected[after], atol=0.01)
    before = np.arange(0, missing[0] - 1)
    np.testing.assert_allclose(poses.data[before], expected[before], atol=0.01)


def test_mp4_with_random_bytes_gives_every_row_and_exit_status(tmp_path, tiny_model, capsys):
    original = write_moving_video(tmp_path / "clip.mp4", 300)
    damaged = damage_middle(original, tmp_path / "damaged.mp4")
    assert cli(["analyze", str(tiny_model), str(damaged), "--destfolder", str(tmp_path)]) == 3
    out, err = capsys.readouterr()
    table = analysis_path(damaged, "DLC_tiny", tmp_path)
    assert out.strip().endswith("1 done, 0 skipped (complete), 0 failed")
    with VideoReader(damaged) as reader:
        missing = [i for i, frame in reader.frames() if frame is None]
    assert f"damaged.mp4: {len(missing)} of 300 frames could not be decoded" in err
    assert f"{missing[0]}-{missing[-1]}" in err
    _check_table(table, _expected_poses(tiny_model, original), missing)


def test_avi_shorter_than_its_header_gives_the_header_count_of_rows(tmp_path, tiny_model):
    original = write_moving_video(tmp_path / "clip.avi", 200, codec="MJPG")
    cut = truncate_half(original, tmp_path / "cut.avi")
    (result,) = analyze_job(tiny_model, [cut], cluster="none", progress=False)
    assert result.frames == 200 and result.missing[-1] == 199
    assert result.missing == list(range(result.missing[0], 200))
    _check_table(result.table, _expected_poses(tiny_model, original), result.missing)


def test_unwritable_destination_fails_before_analysis_starts(tmp_path, tiny_model):
    video = write_moving_video(tmp_path / "clip.mp4", 5)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    recordings = tmp_path / "recordings"
    with pytest.raises(DataError, match="a-file/out"):
        analyze_videos(tiny_model, [video], destfolder=blocker / "out", progress=False,
                       recordings=recordings)
    assert not recordings.exists(), "the pipeline started before the destination was checked"
