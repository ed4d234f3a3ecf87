"""The one interface every model family implements, so the editor never asks which family it has."""
from __future__ import annotations

import torch
from torch import nn


class GenerativeModel(nn.Module):
    """Common interface of VAE, beta-VAE/AE, CVAE and GAN.

    - `encode(x, c)` -> (mean, log-variance) of q(z|x), each (B, latent_dim); only if `can_encode`.
    - `decode(z, c)` -> images in [0, 1], shape (B, C, H, W), whatever the network ends with.
    - `sample(n, c, temperature, generator)` -> images drawn from the prior.
    - `loss(x, c)` -> dict of named scalar terms for a batch (no optimiser step).
    - `train_step(x, c, optimizers)` -> dict of floats, one optimisation step (GANs take two).
    """

    kind: str = ""
    can_encode: bool = False

    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def cond_dim(self) -> int:
        return self.config.cond_dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.config.image_shape)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor, c: torch.Tensor | None = None):
        raise NotImplementedError(f"a {self.kind} model has no encoder")

    def decode(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, n: int, c: torch.Tensor | None = None, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        z = self.prior_sample(n, temperature, generator)
        return self.decode(z, c)

    def prior_sample(self, n: int, temperature: float = 1.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=generator, device="cpu")
        return (z * temperature).to(self.device)

    def loss(self, x: torch.Tensor, c: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def latent_weight(self) -> torch.Tensor | None:
        """(out, latent_dim): the weight of the decoder's first layer when that layer is a linear map of z
        (SeFa's matrix; a condition's columns left out), or None when the network starts otherwise or is
        someone else's code, whose layers are not looked into."""
        return None

    def make_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.parameters(), lr=lr)}

    def train_step(self, x, c, optimizers) -> dict[str, torch.Tensor]:
        terms = self.loss(x, c)
        opt = optimizers["model"]
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        return {k: v.detach() for k, v in terms.items()}

    def _check_condition(self, c: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        if self.cond_dim == 0:
            return None
        if c is None:
            raise ValueError(f"this {self.kind} model needs a condition vector of size {self.cond_dim}")
        if c.dim() == 1:
            c = c.unsqueeze(0).expand(batch, -1)
        if c.shape != (batch, self.cond_dim):
            raise ValueError(f"condition must have shape ({batch}, {self.cond_dim}), got {tuple(c.shape)}")
        return c.to(self.device, torch.float32)
