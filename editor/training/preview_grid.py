"""The training preview: the same fixed latents decoded every few seconds by the training thread, shown
as one grid so the samples visibly sharpen. The GUI only arranges the uint8 images it is sent."""
from __future__ import annotations

import math

import numpy as np

from latent_atlas.editor.widgets.image_view import ImageView
from latent_atlas.models.data.image_grid import make_grid


class PreviewGrid(ImageView):
    def __init__(self, parent=None, min_size: int = 180):
        super().__init__("Preview (fixed latents)", parent, min_size=min_size)
        self.step: int | None = None
        self.count = 0                     # grids shown since the last clear (tests read it)

    def show_images(self, images: np.ndarray, step: int) -> None:
        """images (B, H, W, C) uint8 -> one near-square grid, captioned with the training step."""
        b = images.shape[0]
        grid = make_grid(np.ascontiguousarray(images.transpose(0, 3, 1, 2)), ncols=math.ceil(math.sqrt(b)),
                         pad=max(1, images.shape[1] // 16), pad_value=40)
        self.step = int(step)
        self.count += 1
        self.set_image(grid, f"step {step:,}")

    def clear(self, caption: str = "") -> None:
        super().clear(caption)
        self.step, self.count = None, 0
