"""JPEG-style compression artifacts as a fast batched tensor op.

kornia's :class:`~kornia.augmentation.RandomJPEG` runs a differentiable codec that costs
about 300 ms for 8 images of 256x256 on one CPU core, more than the rest of the
augmentation together. Training needs the artifacts, not the gradient, so this codec
does what a baseline JPEG encoder does to the pixels and nothing more: YCbCr, 2x2 chroma
subsampling, 8x8 block DCT, quantization with the standard tables scaled by quality
(IJG formula), and back. It stays on the input's device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from kornia.color import rgb_to_ycbcr, ycbcr_to_rgb

# ITU-T T.81 Annex K tables (quality 50).
_LUMA_TABLE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
_CHROMA_TABLE = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
    *((99,) * 8 for _ in range(4)),
)


def _dct_matrix(device, dtype) -> torch.Tensor:
    """Orthonormal 8-point DCT-II matrix ``D``: coefficients of a block ``X`` are ``D X D^T``."""
    k = torch.arange(8, device=device, dtype=torch.float64)
    d = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d.to(dtype)


def quant_tables(quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Luma and chroma tables ``(B, 8, 8)`` for qualities ``(B,)`` in [1, 100] (IJG scaling)."""
    q = quality.clamp(1, 100)[:, None, None]
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)
    out = []
    for table in (_LUMA_TABLE, _CHROMA_TABLE):
        base = torch.tensor(table, device=q.device, dtype=q.dtype)
        out.append(torch.floor((base * scale + 50) / 100).clamp(min=1))
    return out[0], out[1]


def _code_blocks(plane: torch.Tensor, table: torch.Tensor, dct: torch.Tensor) -> torch.Tensor:
    """Quantize ``(B, C, H, W)`` planes (H, W multiples of 8) with ``(B, 8, 8)`` tables."""
    b, c, h, w = plane.shape
    blocks = plane.reshape(b, c, h // 8, 8, w // 8, 8)
    coef = torch.einsum("ij,bcyjxk,lk->bcyixl", dct, blocks, dct)
    step = table[:, None, None, :, None, :]
    coef = torch.round(coef / step) * step
    return torch.einsum("ji,bcyjxk,kl->bcyixl", dct, coef, dct).reshape(b, c, h, w)


def jpeg_artifacts(images: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Round-trip ``(B, 3, H, W)`` RGB images in [0, 1] through a baseline JPEG codec.

    ``quality`` is ``(B,)`` in [1, 100]. Entropy coding is lossless, so it is left out.
    """
    b, _, h, w = images.shape
    if b == 0:
        return images.clone()
    pad_h, pad_w = -h % 16, -w % 16
    x = F.pad(images.clamp(0, 1), (0, pad_w, 0, pad_h), mode="replicate")
    ycc = rgb_to_ycbcr(x) * 255 - 128
    luma_q, chroma_q = quant_tables(quality.to(images.dtype))
    dct = _dct_matrix(images.device, images.dtype)
    luma = _code_blocks(ycc[:, :1], luma_q, dct)
    chroma = _code_blocks(F.avg_pool2d(ycc[:, 1:].contiguous(), 2), chroma_q, dct)
    chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)
    out = ycbcr_to_rgb((torch.cat([luma, chroma], 1) + 128) / 255)
    return out[:, :, :h, :w].clamp(0, 1)

