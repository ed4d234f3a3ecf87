"""Many small images in one array (a strip is one row, a grid several), and which tile a point falls on.

Layout: tiles of (H, W) separated by `pad` pixels, no outer border, row-major. One array lets the GUI show a
whole strip or grid with a single ImageItem created once.
"""
from __future__ import annotations

import math

import numpy as np

SEPARATOR_VALUE = 96    # dark grey lines between tiles keep black-background images (digits, MNIST) apart


def tile(images: np.ndarray, ncols: int, pad: int = 1, pad_value: int = 0) -> np.ndarray:
    """(B, H, W, C) uint8 -> (rows*(H+pad)-pad, ncols*(W+pad)-pad, C) uint8."""
    b, h, w, c = images.shape
    ncols = max(1, min(int(ncols), b)) if b else 1
    nrows = max(1, math.ceil(b / ncols))
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad, c), pad_value, np.uint8)
    for i in range(b):
        r, q = divmod(i, ncols)
        out[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = images[i]
    return out


def tile_at(x: float, y: float, tile_shape: tuple[int, int], ncols: int, count: int, pad: int = 1) -> int | None:
    """Index of the tile under pixel coordinates (x right, y down) of a tiled array, or None
    (outside, or on the padding between tiles)."""
    h, w = tile_shape
    if x < 0 or y < 0:
        return None
    q, qx = divmod(float(x), w + pad)
    r, ry = divmod(float(y), h + pad)
    if qx >= w or ry >= h or q >= ncols:
        return None
    i = int(r) * ncols + int(q)
    return i if i < count else None
