"""Messages between the GUI thread and the workers: frozen dataclasses with an id."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DecodeRequest:
    id: int
    z: torch.Tensor                 # (D,) or (B, D) on CPU, cloned
    c: torch.Tensor | None = None   # (C,) or (B, C) condition, or None
    purpose: str = "current"        # "current" image, "strip", "samples", ... (each keeps its own newest)


@dataclass(frozen=True)
class DecodeResult:
    id: int
    purpose: str
    images: np.ndarray              # (B, H, W, C) uint8
    elapsed_ms: float
    extra: dict = field(default_factory=dict)   # e.g. density numbers computed with the decode


@dataclass(frozen=True)
class LoadRequest:
    id: int
    path: str
    device: str = "auto"
    map_limit: int = 10_000         # points on the latent map (test split)
    projection: str = "pca"
