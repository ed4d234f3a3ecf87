"""Differentiable augmentation for GANs on small data sets (Zhao et al. 2020, "Differentiable Augmentation
for Data-Efficient GAN Training"; the policy "color,translation,cutout" of their code).

With a few thousand images the discriminator memorises the real ones and wins outright: D(fake) -> 0 and the
generator's gradient carries nothing (the bundled emoji DCGAN without it: d_fake 0.0 after 13 epochs, noise).
The same random augmentation is applied to the real and the fake batch every time the discriminator sees
them, in the discriminator's step and in the generator's, so D cannot tell them apart by the augmentation and
the generator still learns the un-augmented distribution (the augmentations are differentiable and leave
the target distribution's support alone). Images in [-1, 1], (B, C, H, W).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def diff_augment(x: torch.Tensor, translation: float = 0.125, cutout: float = 0.5) -> torch.Tensor:
    b = x.shape[0]
    dev, dt = x.device, x.dtype
    # colour: brightness, saturation, contrast, each a random factor per image
    x = x + (torch.rand(b, 1, 1, 1, device=dev, dtype=dt) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=dev, dtype=dt) * 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=dev, dtype=dt) + 0.5) + mean
    # translation by up to `translation` of the side, edges repeated (a white background stays white)
    shift = (torch.rand(b, 2, device=dev, dtype=dt) * 2.0 - 1.0) * (2.0 * translation)
    theta = torch.zeros(b, 2, 3, device=dev, dtype=dt)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # cutout: a square of `cutout` of the side set to 0, at a random place
    h, w = x.shape[2], x.shape[3]
    ch, cw = max(1, int(h * cutout + 0.5)), max(1, int(w * cutout + 0.5))
    cy = torch.randint(0, h + 1 - ch % 2, (b, 1, 1), device=dev)
    cx = torch.randint(0, w + 1 - cw % 2, (b, 1, 1), device=dev)
    ys = torch.arange(h, device=dev).view(1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, w)
    dy, dx = ys - cy, xs - cx                       # the square's rows offset - ch // 2 ... offset + ch - ch // 2 - 1
    inside = (dy >= -(ch // 2)) & (dy < ch - ch // 2) & (dx >= -(cw // 2)) & (dx < cw - cw // 2)
    return x * (~inside).unsqueeze(1).to(dt)
