"""Bodypart colors from the config's matplotlib ``colormap`` (DeepLabCut's key)."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def bodypart_colors(n: int, colormap: str = "rainbow") -> list[tuple[int, int, int]]:
    """`n` distinct ``(r, g, b)`` 0..255 colors sampled evenly from a matplotlib colormap
    (an unknown name falls back to ``rainbow``)."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[colormap]
    except KeyError:
        log.warning("unknown colormap %r; using rainbow", colormap)
        cmap = matplotlib.colormaps["rainbow"]
    samples = cmap(np.linspace(0, 1, max(n, 1)))[:n, :3]
    return [tuple(int(round(c * 255)) for c in rgb) for rgb in samples]


def config_colors(raw: dict, n: int) -> list[tuple[int, int, int]]:
    """Colors for `n` bodyparts from a config document's ``colormap`` key."""
    return bodypart_colors(n, str(raw.get("colormap") or "rainbow"))
