"""Mirror-and-shift augmentation of training batches (`latent-atlas train --mirror-shift`, the Training tab's
"Augment: mirror and shift images").

For small image sets whose pictures keep their meaning when mirrored left-right or moved by a few pixels
(emoji, faces, clothes; not digits or text): half of each batch is mirrored, and every image is shifted by up
to 1/16 of its side in each direction, the edge pixels repeated into the gap (a white or black background
stays white or black). Labels and attributes are unchanged. It draws from its own generator, seeded by the
run's seed and the step, so it neither moves the training noise nor needs saving: a resumed run repeats it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def shift_limit(side: int) -> int:
    """Largest shift in pixels for an image side: 1/16 of it, at least 1 (64 -> 4, 28 -> 2, 8 -> 1)."""
    return max(1, round(side / 16))


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2 ** 63))


def mirror_shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """(B, C, H, W) -> the same shape: each image mirrored with probability 1/2 and shifted by a whole number
    of pixels, at most shift_limit of each side, with the border repeated. Random draws from `g` (CPU)."""
    b, _, h, w = x.shape
    flip = (torch.rand(b, generator=g) < 0.5).to(x.device)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    my, mx = shift_limit(h), shift_limit(w)
    dy = torch.randint(-my, my + 1, (b,), generator=g).to(x.device)
    dx = torch.randint(-mx, mx + 1, (b,), generator=g).to(x.device)
    padded = F.pad(x, (mx, mx, my, my), mode="replicate")
    rows = (torch.arange(h, device=x.device)[None, :] + my - dy[:, None])          # (B, H): source row
    cols = (torch.arange(w, device=x.device)[None, :] + mx - dx[:, None])          # (B, W)
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]       # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()
