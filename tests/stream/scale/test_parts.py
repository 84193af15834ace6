import numpy as np
import pytest

from calib.errors import DataError
from stream.scale.ledger import open_jobs, undecoded_frames
from stream.scale.parts import (
    SeekMismatch,
    join_parts,
    missing_ranges,
    part_key,
    part_path,
    read_part,
    remove_parts,
    split_frames,
    write_part,
)
from stream.scale.worker import RangeTask, analyze_range, run_range
from tests.conftest import damage_middle, write_moving_video
from tests.stream.conftest import write_random_video
from tests.stream.scale.conftest import run_ranges
from train.data.video import VideoReader
from train.model.artifact import PoseModel


def test_ranges_start_on_batch_boundaries():
    assert split_frames(21, 5, 4) == [(0, 8), (8, 16), (16, 21)]
    assert split_frames(21, 0, 4) == split_frames(21, 21, 4) == [(0, 21)]
    assert split_frames(16, 8, 8) == [(0, 8), (8, 16)]


def test_ranges_joined_equal_the_unsplit_analysis_exactly(tmp_path, tiny_model):
    video = write_random_video(tmp_path / "v.mp4", 21, 0)
    model = PoseModel(tiny_model)
    whole, before, last = analyze_range(model, video, 0, 21, 4)
    with VideoReader(video) as reader:
        frames = list(reader)
    batches = [model.predict_frames(frames[i:i + 4]) for i in range(0, 21, 4)]
    assert before is None and np.array_equal(whole, np.concatenate(batches))
    (job,), _ = open_jobs([video], "DLC_tiny", tmp_path / "out")
    key = part_key(job, "digest", "DLC_tiny", 4, "cpu")
    ranges = split_frames(job.frames, 5, 4)
    assert missing_ranges(job, ranges, key) == ranges
    for a, b in ranges:
        run_range(model, RangeTask(str(video), str(part_path(job.table, a, b)), a, b, key))
    assert missing_ranges(job, ranges, key) == []  # a rerun has nothing left to do here
    assert missing_ranges(job, ranges, {**key, "batch_size": 8}) == ranges
    joined = join_parts(job, ranges, key)
    assert joined.bodyparts == ("head", "tail") and np.array_equal(joined.data, whole)
    assert read_part(part_path(job.table, 16, 21))[1]["last"] == last

    # a range that seeked onto the wrong frame is never joined
    path = part_path(job.table, 8, 16)
    poses, meta = read_part(path)
    write_part(path, poses, {**meta, "before": [0.0, "0" * 16]})
    with pytest.raises(SeekMismatch, match="frame 7 read after seeking"):
        join_parts(job, ranges, key)
    path.unlink()
    with pytest.raises(DataError, match="frames 8-16 missing"):
        join_parts(job, ranges, key)
    remove_parts(job)
    assert not (tmp_path / "out" / ".poseloop-parts").exists()


def test_frames_that_do_not_decode_are_nan_rows_in_every_range(tmp_path, tiny_model):
    """The scale path follows the pipeline's rule: a frame that does not decode is a NaN
    row at its own index (before, the range failed and the video had no table), and the
    ranges joined equal the unsplit analysis."""
    original = write_moving_video(tmp_path / "clip.mp4", 300)
    video = damage_middle(original, tmp_path / "damaged.mp4")
    with VideoReader(video) as reader:
        missing = [i for i, frame in reader.frames() if frame is None]
    assert missing, "the damage should cost frames"
    model = PoseModel(tiny_model)
    whole, _, _ = analyze_range(model, video, 0, 300, 4)
    nan_rows = np.flatnonzero(np.isnan(whole).all(axis=(1, 2))).tolist()
    assert nan_rows == missing and not np.isnan(np.delete(whole, missing, axis=0)).any()
    job, ranges, key = run_ranges(model, video, tmp_path / "out", "DLC_tiny", 100)
    joined = join_parts(job, ranges, key)
    assert undecoded_frames(joined) == missing
    np.testing.assert_array_equal(np.isnan(joined.data), np.isnan(whole))
    np.testing.assert_allclose(joined.data[~np.isnan(whole)], whole[~np.isnan(whole)], atol=1e-4)
