"""ImageData (numpy) -> the tensors the trainer consumes."""
from __future__ import annotations

import torch

from latent_atlas.models.errors import DatasetError


def training_tensors(data, conditional: bool, condition: str = "labels"):
    """Returns (images uint8 (N, C, H, W), conditions float (N, K) or None, condition names)."""
    if len(data) == 0:
        raise DatasetError(f"{data.source}: the dataset has no images")
    images = torch.from_numpy(data.images)
    if not conditional:
        return images, None, []
    cond, names = data.conditions(condition)
    return images, torch.from_numpy(cond).float(), list(names)
