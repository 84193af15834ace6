"""Node internals without processes: exact skip counting, sources, stats."""

import numpy as np

from stream import messages as m
from stream.inference import WaitingFrames
from stream.sources import camera_frames, image_frames
from stream.supervisor import _why, format_stats
from tests.stream.conftest import write_random_video
from train.data.video import VideoReader


def _frame(cam, seq):
    return m.FrameMessage(cam, seq, seq, 0, np.zeros((2, 2, 3), np.uint8))


def test_live_pending_keeps_newest_and_counts_every_skip():
    p = WaitingFrames(live=True)
    for seq in (0, 1, 4):  # 1 replaces 0; 2 and 3 never arrived; 4 replaces 1
        p.add(_frame("a", seq))
    p.add(_frame("b", 2))  # b's 0 and 1 never arrived
    assert [(f.camera, f.seq) for f in p.take(limit=8)] == [("a", 4), ("b", 2)]
    p.add(_frame("a", 5))
    assert [f.seq for f in p.take(limit=8)] == [5]
    p.end(m.EndMessage("a", 9))  # 6..9 sent but never seen
    p.end(m.EndMessage("b", 2))
    assert dict(p.skipped) == {"a": 2 + 2 + 4, "b": 2}
    assert p.unreported == 10
    # processed + skipped == frames produced, per camera
    assert 2 + p.skipped["a"] == 10 and 1 + p.skipped["b"] == 3


def test_batch_pending_keeps_everything_in_order():
    p = WaitingFrames(live=False)
    for seq in range(5):
        p.add(_frame("a", seq))
    assert [f.seq for f in p.take(limit=3)] == [0, 1, 2]
    assert [f.seq for f in p.take(limit=3)] == [3, 4] and not p.skipped


def test_camera_source_reads_a_url_like_a_video(tmp_path):
    """A camera by URL goes through cv2.VideoCapture like any stream; a file path
    stands in for an rtsp:// URL here."""
    video = write_random_video(tmp_path / "cam.mp4", 7, 0)
    with VideoReader(video) as reader:
        expected = list(reader)
    got = list(camera_frames(str(video)))
    assert [i for i, _ in got] == list(range(7))
    for (_, a), b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(list(camera_frames(str(video), limit=3))) == 3


def test_image_folder_errors_name_the_file(tmp_path):
    import pytest

    from calib.errors import VideoError

    (tmp_path / "a.png").write_bytes(b"not a png")
    with pytest.raises(VideoError, match="a.png"):
        list(image_frames(tmp_path))
    with pytest.raises(VideoError, match="no such image folder"):
        list(image_frames(tmp_path / "absent"))


def test_stats_line_and_death_reasons():
    s = m.StatsMessage("pose", 0, 29.94, 12.3, 40.0, 3, 1, {"cam0": 10})
    assert format_stats({"pose": s}) == "pose: 29.9 fps lat p50 12.3 p99 40.0 ms drops 3 queue 1"
    assert _why(-9) == "killed by signal SIGKILL" and _why(1) == "exited with code 1"
