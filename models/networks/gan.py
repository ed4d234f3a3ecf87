"""DCGAN with the non-saturating generator loss and an N(0, I) prior.

The discriminator D(x) = sigmoid(logit). At the optimum D*(x) = p(x) / (p(x) + q(x)), so
D/(1-D) = exp(logit) estimates the density ratio p/q ("realness"), and the value
V = 1/2 E[log D(x)] + 1/2 E[log(1 - D(G(z)))] estimates JSD(p, q) - log 2.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from latent_atlas.models.base import GenerativeModel
from latent_atlas.models.config import GANConfig
from latent_atlas.models.networks.blocks import DCGANDiscriminator, DCGANGenerator, dcgan_init
from latent_atlas.models.networks.diff_augment import diff_augment


class GAN(GenerativeModel):
    kind = "gan"
    can_encode = False

    def __init__(self, config: GANConfig):
        super().__init__(config)
        self.generator = DCGANGenerator(config)
        self.discriminator = DCGANDiscriminator(config)
        if self.generator.main[0].weight.device.type != "meta":   # on meta (shape checks) nothing to fill
            self.apply(dcgan_init)

    def decode(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return (self.generator(z) + 1.0) * 0.5                 # tanh range -> [0, 1]

    def latent_weight(self) -> torch.Tensor:
        """(C * s_h * s_w, latent_dim): the first ConvTranspose2d sees z as a 1x1 image, so its output is
        sum_i z_i W[i], a linear map of z (SeFa's matrix; the BatchNorm after it is left out, as SeFa does)."""
        w = self.generator.main[0].weight                     # (latent_dim, ch, s_h, s_w)
        return w.detach().reshape(w.shape[0], -1).T

    def realness(self, x: torch.Tensor) -> torch.Tensor:
        """Discriminator's density-ratio estimate D/(1-D) = exp(logit) per image (B,), x in [0, 1]."""
        return torch.exp(self.discriminator(x * 2.0 - 1.0).clamp(max=80.0))

    def make_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        betas = (0.5, 0.999)   # DCGAN paper: beta1 = 0.9 oscillates
        return {"generator": torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
                "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)}

    def _terms(self, real_logits, fake_logits_d, fake_logits_g):
        ones, zeros = torch.ones_like(real_logits), torch.zeros_like(fake_logits_d)
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, ones)
                  + F.binary_cross_entropy_with_logits(fake_logits_d, zeros))
        g_loss = F.binary_cross_entropy_with_logits(fake_logits_g, torch.ones_like(fake_logits_g))
        # V = 1/2 E log D(x) + 1/2 E log(1 - D(G(z))) = -d_loss / 2; JSD estimate = V + log 2
        value = -0.5 * d_loss
        return {"loss": d_loss + g_loss, "d_loss": d_loss, "g_loss": g_loss,
                "d_real": torch.sigmoid(real_logits).mean(), "d_fake": torch.sigmoid(fake_logits_d).mean(),
                "jsd": value + math.log(2.0)}

    def loss(self, x: torch.Tensor, c: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        fake = self.generator(self.prior_sample(x.shape[0]))
        real_logits = self.discriminator(x * 2.0 - 1.0)
        fake_logits = self.discriminator(fake)
        return self._terms(real_logits, fake_logits, fake_logits)

    def train_step(self, x, c, optimizers) -> dict[str, torch.Tensor]:
        opt_d, opt_g = optimizers["discriminator"], optimizers["generator"]
        real = x * 2.0 - 1.0
        z = torch.randn(x.shape[0], self.latent_dim, device=x.device)
        fake = self.generator(z)
        seen = diff_augment if self.config.augment else (lambda images: images)   # what D is shown
        real_logits = self.discriminator(seen(real))
        fake_logits_d = self.discriminator(seen(fake.detach()))
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits_d, torch.zeros_like(fake_logits_d)))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        fake_logits_g = self.discriminator(seen(fake))           # non-saturating: maximise log D(G(z))
        g_loss = F.binary_cross_entropy_with_logits(fake_logits_g, torch.ones_like(fake_logits_g))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        terms = self._terms(real_logits.detach(), fake_logits_d.detach(), fake_logits_g.detach())
        return {k: v.detach() for k, v in terms.items()}
