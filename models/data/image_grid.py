"""Images (B, C, H, W) in [0, 1] -> one uint8 grid (rows, cols) for PNG export. numpy only."""
from __future__ import annotations

import math

import numpy as np


def to_uint8(images) -> np.ndarray:
    """float [0, 1] tensor or array (B, C, H, W) -> uint8 (B, C, H, W), rounded, clipped."""
    arr = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, ncols: int | None = None, pad: int = 2, pad_value: int = 0) -> np.ndarray:
    """uint8 (B, C, H, W) -> (rows*(H+pad)+pad, cols*(W+pad)+pad, C) uint8."""
    b, c, h, w = images.shape
    ncols = ncols or math.ceil(math.sqrt(b))
    nrows = math.ceil(b / ncols)
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), pad_value, np.uint8)
    for i in range(b):
        r, q = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        grid[y:y + h, x:x + w] = images[i].transpose(1, 2, 0)
    return grid


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of an (H, W, C) image by an integer factor."""
    return image.repeat(factor, 0).repeat(factor, 1) if factor > 1 else image
