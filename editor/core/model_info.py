"""What the GUI thread may know of the open model: a frozen description read once where the model was
loaded. The nn.Module itself belongs to the decode worker (editor/workers/decode_worker.py) from the
moment the editor shows it; the panels read `loaded.info`, never the module.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    kind: str                            # registry kind: "vae", "cvae", "gan", a user's module's kind
    latent_dim: int
    cond_dim: int                        # 0 without a condition
    can_encode: bool                     # False for a GAN: your own image is inverted by optimisation
    image_shape: tuple[int, int, int]    # (C, H, W) of decode's output, always in [0, 1]
    has_density: bool                    # ELBO and log p(x) can be computed (a VAE with a likelihood)
    has_realness: bool                   # a discriminator scores images (a GAN that has one)
    sefa_reason: str                     # "" when SeFa can read the decoder's first layer, else why not

    @property
    def channels(self) -> int:
        return self.image_shape[0]

    @classmethod
    def of(cls, model, kind: str) -> ModelInfo:
        """Reads the module: call it where the module lives (the load job), never on the GUI thread."""
        return cls(kind=kind, latent_dim=int(model.latent_dim), cond_dim=int(model.cond_dim or 0),
                   can_encode=bool(model.can_encode), image_shape=tuple(int(n) for n in model.image_shape),
                   has_density=bool(model.can_encode and getattr(model, "has_density", True)),
                   has_realness=hasattr(model, "realness"), sefa_reason=_sefa_reason(model, kind))


def _sefa_reason(model, kind: str) -> str:
    try:
        weight = model.latent_weight()
    except (AttributeError, RuntimeError, TypeError) as e:    # someone else's module: no weight to read
        return f"SeFa needs the decoder's first layer: {e}"
    if weight is None:
        return f"SeFa needs a decoder whose first layer is a linear map of z; this {kind} has none"
    return ""
