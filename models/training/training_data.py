"""ImageData (numpy) -> the tensors the trainer consumes."""
from __future__ import annotations

import torch

from latent_atlas.models.errors import ConfigError, DatasetError


def training_tensors(data, conditional: bool, condition: str = "labels"):
    """Returns (images uint8 (N, C, H, W), conditions float (N, K) or None, condition names)."""
    if len(data) == 0:
        raise DatasetError(f"{data.source}: the dataset has no images")
    images = torch.from_numpy(data.images)
    if not conditional:
        return images, None, []
    cond, names = data.conditions(condition)
    return images, torch.from_numpy(cond).float(), list(names)


def check_resume_fits(source, config, data, conditions, condition: str | None = None) -> None:
    """A resumed run must see images of the checkpoint's shape and a condition of its size (and, when the
    condition-consistency term reads it back, of its kind: labels or attributes)."""
    if tuple(data.image_shape) != tuple(config.image_shape):
        raise ConfigError(f"{source} was trained on {tuple(config.image_shape)} images; "
                          f"{data.name} gives {data.image_shape}")
    cond_dim = 0 if conditions is None else conditions.shape[1]
    if cond_dim != config.cond_dim:
        raise ConfigError(f"{source} is conditioned on {config.cond_dim} values; {data.name} "
                          f"gives {cond_dim}")
    kind = getattr(config, "condition_kind", None)
    if condition is not None and getattr(config, "consistency", 0) > 0 and condition != kind:
        raise ConfigError(f"{source} is conditioned on {kind}; it cannot resume on {condition}")
