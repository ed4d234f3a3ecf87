"""`latent_atlas.load(FILE)`: any checkpoint the editor opens, behind the one model interface, for scripts
and notebooks: decode(z, c=None) -> images in [0, 1] (B, C, H, W); encode(x, c=None) -> (mean,
log-variance) for images in [0, 1]; latent_dim, image_shape, cond_dim, kind."""
from __future__ import annotations

from pathlib import Path


def load(path, device: str = "cpu"):
    """The model of a Latent Atlas checkpoint (its own, or one written by `latent-atlas convert`), in eval
    mode on `device` ("auto": CUDA, then MPS, then CPU). CheckpointError names the file on bad input; a
    PyTorch pickle (.pt, .pth, .ckpt) is refused with the convert command to run."""
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
    from latent_atlas.models.checkpoints.header import sniff_format
    from latent_atlas.models.device import resolve_device
    from latent_atlas.models.errors import CheckpointError

    path = Path(path)
    if path.is_file() and sniff_format(path) in ("pytorch-zip", "pickle"):
        raise CheckpointError(f"{path}: a PyTorch pickle file; convert it first: "
                              f"latent-atlas convert {path} --out {path.with_suffix('.safetensors').name}")
    return load_checkpoint(path, device=resolve_device(device)).model.eval()
