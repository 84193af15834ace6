from dataclasses import replace

import numpy as np
import pytest

from calib.errors import DataError, VideoError
from stream.scale.ledger import commit_table, is_complete, model_digest, open_jobs
from tests.stream.conftest import write_random_video
from train.data.keypoints import Poses2D
from train.data.tables import read_analysis, write_analysis


def test_a_table_is_complete_only_with_a_matching_stamp_and_every_row(tmp_path, tiny_model):
    video = write_random_video(tmp_path / "v.mp4", 7, 0)
    (job,), failed = open_jobs([video], "DLC_tiny", None)
    assert not failed and job.frames == 7 and job.table == tmp_path / "vDLC_tiny.h5"
    digest = model_digest(tiny_model)
    poses = Poses2D(("head", "tail"), np.arange(7 * 6, dtype=np.float32).reshape(7, 2, 3))
    write_analysis(poses, "DLC_tiny", job.table)  # a table without a stamp: not ours to trust
    assert not is_complete(job, digest, "DLC_tiny", csv=False)
    commit_table(job, poses, digest, "DLC_tiny", csv=False)
    assert is_complete(job, digest, "DLC_tiny", csv=False)
    assert not is_complete(job, "0" * 64, "DLC_tiny", csv=False)  # another model
    assert not is_complete(job, digest, "DLC_other", csv=False)
    assert not is_complete(job, digest, "DLC_tiny", csv=True)  # csv asked for, not there
    assert not is_complete(replace(job, frames=8), digest, "DLC_tiny", csv=False)
    assert not is_complete(replace(job, size=job.size + 1), digest, "DLC_tiny", csv=False)
    back, scorer = read_analysis(job.table)  # still a plain DeepLabCut table
    assert scorer == "DLC_tiny" and np.array_equal(back.data, poses.data)
    with pytest.raises(DataError, match="6 poses for the 7 frames"):
        commit_table(job, Poses2D(poses.bodyparts, poses.data[:6]), digest, "DLC_tiny", False)
    job.table.write_bytes(b"garbage")
    assert not is_complete(job, digest, "DLC_tiny", csv=False)


def test_bad_videos_are_reported_and_clashing_tables_refused(tmp_path):
    good = write_random_video(tmp_path / "a" / "v.mp4", 3, 0)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    jobs, failed = open_jobs([good, bad], "DLC_x", None)
    assert [j.video for j in jobs] == [good] and "bad.mp4" in failed[bad]
    other = write_random_video(tmp_path / "b" / "v.mp4", 3, 1)
    with pytest.raises(VideoError, match="would both write"):
        open_jobs([good, other], "DLC_x", tmp_path / "out")
