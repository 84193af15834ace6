"""Images cut off before their end are refused (OpenCV decodes a cut JPEG silently, gray
where the data stopped); whole ones read exactly as OpenCV reads them."""

import cv2
import numpy as np
import pytest

from calib.errors import VideoError
from calib.fileio import read_image


def _photo(h=120, w=160) -> np.ndarray:
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (7, 7), 2)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_whole_images_read_as_opencv_reads_them(tmp_path, suffix):
    path = tmp_path / f"a{suffix}"
    cv2.imwrite(str(path), _photo())
    np.testing.assert_array_equal(read_image(path), cv2.imread(str(path), cv2.IMREAD_COLOR))
    np.testing.assert_array_equal(read_image(path, color=False),
                                  cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_cut_off_images_are_refused(tmp_path, suffix):
    whole = tmp_path / f"whole{suffix}"
    cv2.imwrite(str(whole), _photo())
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    if suffix == ".jpg":  # the reason for read_image: OpenCV refuses only the PNG
        assert cv2.imread(str(cut)) is not None
    assert read_image(cut) is None
    assert read_image(tmp_path / "missing.jpg") is None
    (tmp_path / "text.jpg").write_text("not an image")
    assert read_image(tmp_path / "text.jpg") is None


def test_bytes_a_camera_appends_after_a_jpeg_are_allowed(tmp_path):
    path = tmp_path / "trailer.jpg"
    cv2.imwrite(str(path), _photo())
    path.write_bytes(path.read_bytes() + b"\0" * 100 + b"maker notes")
    assert read_image(path) is not None


def test_cut_off_frames_are_named_by_the_readers(tmp_path, caplog):
    from calib.detect import iter_frames
    from stream.sources import image_frames

    for k in range(3):
        cv2.imwrite(str(tmp_path / f"f{k}.jpg"), _photo())
    data = (tmp_path / "f1.jpg").read_bytes()
    (tmp_path / "f1.jpg").write_bytes(data[: len(data) // 2])
    assert [k for k, _ in iter_frames(tmp_path)] == [0, 2]
    assert "f1.jpg: missing, cut off or not an image: skipped" in caplog.text
    with pytest.raises(VideoError, match=r"f1\.jpg: cut off"):
        list(image_frames(tmp_path))
