"""Messages between the GUI thread and the workers: frozen dataclasses with an id.

The decode worker takes one request type per kind of network call and dispatches on the type
(editor/workers/decode_worker.py); nothing the GUI writes runs on the worker's thread as code. The id
is stamped by the channel that sends the request (editor/workers/decode_channel.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from latent_atlas.editor.core.density import OffDataCheck


# eq=False on requests: they hold arrays, and a request is compared by its id, never by value
@dataclass(frozen=True, eq=False)
class DecodeRequest:
    """Images of latents: a DecodeResult."""
    z: torch.Tensor                 # (D,) or (B, D) on CPU, cloned
    c: torch.Tensor | None = None   # (C,) or (B, C) condition, or None
    id: int = 0


@dataclass(frozen=True, eq=False)
class DensityRequest:
    """How likely the image of z is (editor/core/density.py density_of): a Density, or None when the
    estimate gave way to a waiting decode."""
    z: np.ndarray                         # (D,) float32
    condition: np.ndarray | None = None   # (C,) a CVAE's condition
    off: OffDataCheck | None = None       # the open model's off-the-data test (threshold computed there)
    note: str = ""                        # e.g. a converted GAN's missing discriminator
    id: int = 0


@dataclass(frozen=True, eq=False)
class EncodeRequest:
    """Your own image's posterior mean (editor/core/inversion.py encode_image): (D,) float32."""
    image: np.ndarray                     # (C, H, W) uint8, fitted to the model
    condition: np.ndarray | None = None
    id: int = 0


@dataclass(frozen=True, eq=False)
class ModelCopyRequest:
    """A private frozen eval copy of the model, made where the model lives, for a job thread that then owns
    it: a GAN inversion, a vector's score, SeFa (editor/core/inversion.py copy_for_inversion)."""
    id: int = 0


@dataclass(frozen=True, eq=False)
class OffDataRequest:
    """Which frames of a strip leave the data: (M,) bool (OffDataCheck.frames_off_data). Asked of the
    worker because the first call computes the data's distance threshold (a second or so)."""
    frames: np.ndarray                    # (M, D) float32
    off: OffDataCheck
    id: int = 0


@dataclass(frozen=True, eq=False)
class MoveRequest:
    """Moves the worker's model to another device; answers None."""
    device: torch.device
    id: int = 0


@dataclass(frozen=True)
class DecodeResult:
    id: int
    images: np.ndarray              # (B, H, W, C) uint8
    elapsed_ms: float
