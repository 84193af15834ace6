"""The JPEG-artifact codec does to pixels what OpenCV's real JPEG encoder does."""

import cv2
import numpy as np
import pytest
import torch

from train.model.augment.jpeg import jpeg_artifacts, quant_tables


def picture() -> np.ndarray:
    """A 70x90 BGR uint8 picture with gradients, edges and texture (sizes not multiples of 8)."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[:70, :90]
    img = np.stack([xs * 2.5, ys * 3.0, 128 + 60 * np.sin(xs / 5.0) * np.cos(ys / 7.0)], -1)
    img[20:45, 30:60] = (30, 200, 90)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def to_tensor(bgr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("quality", [20, 50, 90])
def test_matches_opencv_jpeg(quality):
    bgr = picture()
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    reference = to_tensor(cv2.imdecode(buf, cv2.IMREAD_COLOR))
    x = to_tensor(bgr)
    ours = jpeg_artifacts(x, torch.tensor([float(quality)]))
    assert ours.shape == x.shape and 0 <= ours.min() and ours.max() <= 1
    loss_ours = (ours - x).abs().mean()
    loss_cv2 = (reference - x).abs().mean()
    # the same information is lost: errors within 10 % of OpenCV's, output close to OpenCV's
    assert abs(loss_ours - loss_cv2) < 0.1 * loss_cv2
    assert (ours - reference).abs().mean() < 0.3 * loss_cv2


def test_lower_quality_loses_more_and_samples_are_independent():
    x = to_tensor(picture()).repeat(3, 1, 1, 1)
    out = jpeg_artifacts(x, torch.tensor([10.0, 50.0, 95.0]))
    errors = (out - x).abs().mean(dim=(1, 2, 3))
    assert errors[0] > errors[1] > errors[2] > 0
    assert torch.equal(out[1:2], jpeg_artifacts(x[1:2], torch.tensor([50.0])))


def test_quality_50_uses_the_standard_tables():
    luma, chroma = quant_tables(torch.tensor([50.0, 100.0]))
    assert luma[0, 0, 0] == 16 and luma[0, 7, 7] == 99 and chroma[0, 0, 0] == 17
    assert (luma[1] == 1).all() and (chroma[1] == 1).all()
