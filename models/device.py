"""Pick the best available device: CUDA, then Apple MPS, then CPU. (torch is imported when asked, so
importing this module costs nothing.)"""
from __future__ import annotations

from typing import TYPE_CHECKING

from latent_atlas.models.errors import ConfigError

if TYPE_CHECKING:
    import torch


def available_devices() -> list[str]:
    import torch

    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def best_device() -> torch.device:
    import torch

    return torch.device(available_devices()[0])


def resolve_device(name: str | None) -> torch.device:
    """'auto' (or None) -> best device; otherwise the named one, if this machine has it."""
    import torch

    if name in (None, "", "auto"):
        return best_device()
    base = name.split(":")[0]
    if base not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {name!r} (use auto, cpu, cuda or mps)")
    if base not in available_devices():
        raise ConfigError(f"device {name!r} is not available on this machine (available: "
                          f"{', '.join(available_devices())})")
    return torch.device(name)
