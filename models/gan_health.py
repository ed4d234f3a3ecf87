"""Warnings for the two classic GAN failures: a discriminator that wins outright, and mode collapse."""
from __future__ import annotations

import torch


class GanHealth:
    def __init__(self, patience: int = 50, collapse_ratio: float = 0.05):
        self.patience = patience              # progress events (~5 s) of D winning before a warning
        self.collapse_ratio = collapse_ratio  # sample spread below this share of the data's: collapse
        self._winning = 0
        self._warned_win = False
        self._fixed_z: torch.Tensor | None = None

    def update(self, means: dict[str, float]) -> str:
        if means.get("d_real", 0.5) > 0.99 and means.get("d_fake", 0.5) < 0.01:
            self._winning += 1
        else:
            self._winning = 0
        if self._winning >= self.patience and not self._warned_win:
            self._warned_win = True
            return ("the discriminator wins outright (D(x) > 0.99, D(G(z)) < 0.01): the generator gets "
                    "no gradient; try a lower discriminator learning rate or a smaller model")
        return ""

    @torch.no_grad()
    def check_collapse(self, model) -> str:
        if self._fixed_z is None:
            self._fixed_z = torch.randn(32, model.latent_dim, generator=torch.Generator().manual_seed(7))
        was_training = model.training
        model.eval()
        imgs = model.decode(self._fixed_z.to(model.device)).flatten(1)   # (32, C*H*W)
        model.train(was_training)
        spread = imgs.std(0).mean().item()
        if spread < self.collapse_ratio * 0.3:   # 0.3: about the pixel spread of natural image sets
            return f"the samples collapse to one image (pixel spread {spread:.4f}): mode collapse"
        return ""
