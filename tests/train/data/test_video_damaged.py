"""Damaged and non-seekable videos: every frame keeps its index. A frame that does not
decode is reported at its own index (never a shorter or shifted sequence), and a stream
that cannot seek is never trusted to have sought."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.conftest import damage_middle, truncate_half, write_moving_video
from train.data.video import VideoReader, frame_ranges


def _all_frames(path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return list(reader)


def _check_in_place(damaged, original, n: int) -> list[int]:
    """Read `damaged` with frames(): every index once, in order; the frames after the
    undecodable run equal the original's frames at the same index."""
    reference = _all_frames(original)
    assert len(reference) == n
    with VideoReader(damaged) as reader:
        got = list(reader.frames())
        lost = reader.undecodable
    assert [i for i, _ in got] == list(range(n))
    assert lost == [i for i, frame in got if frame is None]
    assert lost, "the damage should have made some frames undecodable"
    after = [i for i, frame in got if frame is not None and i > lost[-1]]
    for i in after:
        np.testing.assert_array_equal(got[i][1], reference[i], err_msg=f"frame {i} shifted")
    return lost


def test_random_bytes_in_the_middle_of_an_mp4(tmp_path):
    original = write_moving_video(tmp_path / "clip.mp4", 300)
    damaged = damage_middle(original, tmp_path / "damaged.mp4")
    lost = _check_in_place(damaged, original, 300)
    assert 100 < lost[0] and lost[-1] < 200 and lost == list(range(lost[0], lost[-1] + 1))


def test_avi_that_ends_before_its_header_says(tmp_path):
    original = write_moving_video(tmp_path / "clip.avi", 200, codec="MJPG")
    cut = truncate_half(original, tmp_path / "cut.avi")
    with VideoReader(cut) as reader:
        assert reader.n_frames == 200  # what the header promises
    lost = _check_in_place(cut, original, 200)
    assert lost[-1] == 199 and lost == list(range(lost[0], 200)) and 50 < lost[0] < 150


def _raw_mjpeg(path, n: int) -> list[np.ndarray]:
    """A raw MJPEG stream (JPEGs back to back, no container: it cannot seek)."""
    frames = []
    with open(path, "wb") as f:
        for i in range(n):
            image = np.full((48, 64, 3), 4 * i, np.uint8)
            data = cv2.imencode(".jpg", image)[1]
            f.write(data.tobytes())
            frames.append(cv2.imdecode(data, cv2.IMREAD_COLOR))
    return frames


def test_raw_mjpeg_stream_keeps_every_frame_in_place(tmp_path):
    path = tmp_path / "stream.mjpeg"
    expected = _raw_mjpeg(path, 60)
    frames = _all_frames(path)
    assert len(frames) == 60
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, expected[i], err_msg=f"row {i} is another frame")
    with VideoReader(path) as reader:
        assert reader.n_frames == 60
        assert [i for i, f in reader.frames() if f is not None] == list(range(60))
    with VideoReader(path) as reader:
        for index in (10, 3, 4, 0, 59, 30):  # random access cannot seek: read from the start
            np.testing.assert_array_equal(reader.read(index), expected[index],
                                          err_msg=f"read({index})")


def test_checked_seeks_still_used_where_they_work(tmp_path):
    path = write_moving_video(tmp_path / "clip.mp4", 60)
    reference = _all_frames(path)
    with VideoReader(path) as reader:
        for index in (40, 7, 0, 59, 8):
            np.testing.assert_array_equal(reader.read(index), reference[index])
        assert reader._seekable


@pytest.mark.parametrize("indices, text", [
    ([], ""), ([4], "4"), ([1, 2, 3, 7, 9, 10], "1-3, 7, 9-10"),
    (list(range(0, 40, 2)), "0, 2, 4, 6, 8, 10, 12, 14 and 12 more runs"),
])
def test_frame_ranges(indices, text):
    assert frame_ranges(indices) == text
