"""Warnings for the two classic GAN failures: a discriminator that wins outright, and mode collapse.

Both are judged from numbers the trainer has anyway: the windowed means of D(x) and D(G(z)) at each
progress event, and, at the end of each epoch, the pixel spread of 32 samples from a fixed z compared
with the spread of the training images. A fresh DCGAN generator draws near-constant grey, so a low spread
alone is not collapse: it counts as collapse when the spread falls after the samples had varied, or when
it stays low for `collapse_patience` epochs in a row.
"""
from __future__ import annotations

import torch


def pixel_spread(images: torch.Tensor) -> float:
    """Mean over pixels of the standard deviation across images; images (N, C, H, W) in [0, 1]."""
    if len(images) < 2:
        return 0.0
    return images.flatten(1).float().std(0).mean().item()


class GanHealth:
    def __init__(self, data_spread: float = 0.3, patience: int = 50, collapse_ratio: float = 0.05,
                 collapse_patience: int = 5):
        self.data_spread = data_spread          # pixel spread of the training images (0.3: natural image sets)
        self.patience = patience                # progress events (~5 s) of D winning before a warning
        self.collapse_ratio = collapse_ratio    # sample spread below this share of the data's: collapsed
        self.collapse_patience = collapse_patience
        self._winning = 0
        self._warned_win = False
        self._fixed_z: torch.Tensor | None = None
        self._peak = 0.0
        self._low_checks = 0
        self._warned_collapse = False

    def update(self, means: dict[str, float]) -> str:
        """Called with each progress event's mean terms; a message once D has won for `patience` events."""
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
        """Called at the end of each epoch; a message when the samples collapse (again after recovering)."""
        if self._fixed_z is None:
            self._fixed_z = torch.randn(32, model.latent_dim, generator=torch.Generator().manual_seed(7))
        was_training = model.training
        model.eval()
        spread = pixel_spread(model.decode(self._fixed_z.to(model.device)))
        model.train(was_training)
        threshold = self.collapse_ratio * self.data_spread
        had_variety = self._peak >= 4 * threshold
        self._peak = max(self._peak, spread)
        if spread >= threshold:
            self._low_checks, self._warned_collapse = 0, False
            return ""
        self._low_checks += 1
        if self._warned_collapse or not (had_variety or self._low_checks >= self.collapse_patience):
            return ""
        self._warned_collapse = True
        how = "after the samples had varied" if had_variety else f"for {self._low_checks} epochs"
        return (f"the samples collapse to one image {how} (pixel spread {spread:.4f}, the data's "
                f"{self.data_spread:.3f}): mode collapse")
