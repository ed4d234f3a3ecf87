"""Model output -> display and export arrays. Everything the GUI draws is uint8 (H, W, C).
torch is imported where a tensor is converted, so the window can be built before torch is loaded."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from latent_atlas.editor.core.tiles import SEPARATOR_VALUE, tile

if TYPE_CHECKING:
    import torch


def images_to_hwc_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) float in [0, 1] -> (B, H, W, C) uint8. NaN becomes 0."""
    import torch

    arr = torch.nan_to_num(images.detach().float(), nan=0.0).clamp_(0, 1).mul_(255).round_()
    return arr.to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


def chw_to_hwc(images: np.ndarray) -> np.ndarray:
    """uint8 (B, C, H, W) -> (B, H, W, C)."""
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1))


def for_display(image: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H, W) for grayscale, (H, W, 3) for colour: what ImageItem and PIL expect."""
    return image[..., 0] if image.shape[-1] == 1 else image


def strip(images: np.ndarray, pad: int = 1) -> np.ndarray:
    """(B, H, W, C) uint8 -> one row (H, B*(W+pad)-pad, C), the separators as on screen: the editor's
    strips, their PNG export and `latent-atlas render` of its recipe all draw a strip with this."""
    return tile(images, len(images), pad, SEPARATOR_VALUE)
