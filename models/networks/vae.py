"""VAE family: beta = 0 is a plain autoencoder, 1 a VAE, > 1 a beta-VAE; cond_dim > 0 a conditional VAE.

ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)); training minimises recon + beta * KL, while the
reported `elbo` is always the true bound (beta = 1), so models trained with different beta compare.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from latent_atlas.models.base import GenerativeModel
from latent_atlas.models.config import VAEConfig
from latent_atlas.models.networks.blocks import ConvDecoder, ConvEncoder, pixel_count
from latent_atlas.models.training.consistency import ConditionReader, consistency_terms


class VAE(GenerativeModel):
    kind = "vae"
    can_encode = True

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self._build_layers(config)
        if config.consistency > 0:
            self.condition_reader = ConditionReader(config)

    def _build_layers(self, cfg: VAEConfig) -> None:
        """The encoder and decoder of `cfg.arch`; a subclass with another network replaces this."""
        n_pix = pixel_count(cfg.image_shape)
        if cfg.arch == "conv":
            self.encoder = ConvEncoder(cfg)
            feat = self.encoder.feature_dim
            self.enc_fc = nn.Sequential(nn.Linear(feat + cfg.cond_dim, cfg.hidden), nn.LeakyReLU(0.2))
            self.fc_mu = nn.Linear(cfg.hidden, cfg.latent_dim)
            self.fc_logvar = nn.Linear(cfg.hidden, cfg.latent_dim)
            self.dec_fc = nn.Sequential(nn.Linear(cfg.latent_dim + cfg.cond_dim, cfg.hidden), nn.LeakyReLU(0.2),
                                        nn.Linear(cfg.hidden, feat), nn.LeakyReLU(0.2))
            self.decoder = ConvDecoder(cfg, self.encoder)
        else:
            # The PyTorch examples' VAE: names fc1, fc21, fc22, fc3, fc4 so its state dict converts as is.
            self.fc1 = nn.Linear(n_pix + cfg.cond_dim, cfg.hidden)
            self.fc21 = nn.Linear(cfg.hidden, cfg.latent_dim)
            self.fc22 = nn.Linear(cfg.hidden, cfg.latent_dim)
            self.fc3 = nn.Linear(cfg.latent_dim + cfg.cond_dim, cfg.hidden)
            self.fc4 = nn.Linear(cfg.hidden, n_pix)

    # -- the interface -------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, c: torch.Tensor | None = None):
        c = self._check_condition(c, x.shape[0])
        if self.config.arch == "conv":
            h = self.encoder(x)                                  # (B, feature_dim)
            h = self.enc_fc(h if c is None else torch.cat([h, c], 1))
            return self.fc_mu(h), self.fc_logvar(h)              # each (B, latent_dim)
        h = x.flatten(1)                                         # (B, C * H * W)
        h = F.relu(self.fc1(h if c is None else torch.cat([h, c], 1)))
        return self.fc21(h), self.fc22(h)

    def decode_logits(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        c = self._check_condition(c, z.shape[0])
        zc = z if c is None else torch.cat([z, c], 1)            # (B, latent_dim + cond_dim)
        if self.config.arch == "conv":
            return self.decoder(self.dec_fc(zc))                 # (B, C, H, W)
        return self.fc4(F.relu(self.fc3(zc))).view(-1, *self.image_shape)

    def decode(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, c))

    def latent_weight(self) -> torch.Tensor:
        """(hidden, latent_dim): the decoder's first Linear on [z, c], its z columns only."""
        first = self.dec_fc[0] if self.config.arch == "conv" else self.fc3
        return first.weight.detach()[:, :self.latent_dim]

    def loss(self, x: torch.Tensor, c: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        c = self._check_condition(c, x.shape[0])
        mu, logvar = self.encode(x, c)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterisation trick
        recon = self.recon_nll(self.decode_logits(z, c), x).mean()
        kl = gaussian_kl(mu, logvar).mean()
        beta = float(self.config.beta)
        terms = {"loss": recon + beta * kl, "recon": recon, "kl": kl, "beta_kl": beta * kl, "elbo": -(recon + kl)}
        if self.config.consistency > 0:
            extra = consistency_terms(self, x, c)
            terms.update(extra)
            terms["loss"] = terms["loss"] + extra["reader"] + self.config.consistency * extra["consistency"]
        return terms

    # -- density estimation --------------------------------------------------------------------------
    def recon_nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per image (B,), summed over pixels."""
        if self.config.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        sq = (torch.sigmoid(logits) - x).pow(2).flatten(1).sum(1)
        return 0.5 * sq + 0.5 * x[0].numel() * math.log(2 * math.pi)   # unit-variance Gaussian

    def elbo(self, x: torch.Tensor, c: torch.Tensor | None = None, samples: int = 1) -> torch.Tensor:
        """Per-image ELBO (B,) in nats, averaged over `samples` draws of z."""
        mu, logvar = self.encode(x, c)
        return elbo_estimate(mu, logvar, lambda z: -self.recon_nll(self.decode_logits(z, c), x), samples)

    def iw_log_likelihood(self, x: torch.Tensor, c: torch.Tensor | None = None, k: int = 64) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) per image (B,), K samples from q(z|x) (Burda et al.).
        Never below the ELBO in expectation; tighter as K grows."""
        mu, logvar = self.encode(x, c)
        return iw_estimate(mu, logvar, lambda z: -self.recon_nll(self.decode_logits(z, c), x), k)


class CVAE(VAE):
    """Conditional VAE: `x -> z` and `[z, a] -> x_hat`; the same z renders under any condition a."""
    kind = "cvae"


def elbo_estimate(mu: torch.Tensor, logvar: torch.Tensor, log_px_given_z, samples: int = 1) -> torch.Tensor:
    """E_q[log p(x|z)] - KL(q(z|x) || p(z)) per row (B,), the expectation from `samples` reparameterised draws;
    log_px_given_z(z) -> (B,). Shared by every VAE family, ours and a user's module."""
    total = torch.zeros(mu.shape[0], device=mu.device)
    for _ in range(samples):
        total += log_px_given_z(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))
    return total / samples - gaussian_kl(mu, logvar)


def iw_estimate(mu: torch.Tensor, logvar: torch.Tensor, log_px_given_z, k: int = 64) -> torch.Tensor:
    """Importance-weighted log p(x) per row (B,) with K draws from q(z|x) (Burda et al.)."""
    std = torch.exp(0.5 * logvar)
    log_w = []
    for _ in range(k):
        eps = torch.randn_like(mu)
        z = mu + eps * std
        log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)
        log_qz = -0.5 * (eps.pow(2) + logvar + math.log(2 * math.pi)).sum(1)
        log_w.append(log_px_given_z(z) + log_pz - log_qz)
    return torch.logsumexp(torch.stack(log_w), 0) - math.log(k)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row (B,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
