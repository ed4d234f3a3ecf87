"""The PyTorch-VAE zoo's networks (github.com/AntixK/PyTorch-VAE): VanillaVAE (its BetaVAE is the same
network) and ConditionalVAE, layer for layer, so a converted state dict loads with the zoo's own names.

Encoder: per entry of `hidden_dims`, Conv2d 3x3 stride 2 padding 1 + BatchNorm2d + LeakyReLU(0.01), then
`fc_mu` / `fc_var` from the flattened last block. Decoder: `decoder_input` Linear viewed as
(hidden_dims[-1], s, s), ConvTranspose2d 3x3 stride 2 padding 1 output_padding 1 + BatchNorm2d + LeakyReLU
over the reversed widths, and `final_layer` (one more such upsampling, Conv2d to 3 channels, Tanh).
The zoo hard-codes s = 2 and a width of 512 in its `view`; here both come from the config, so the
same class also holds a zoo network someone trained with other `hidden_dims` or image size.

The ConditionalVAE adds `embed_class` (Linear from the condition to one H x W image channel) and
`embed_data` (a 1x1 Conv2d on the image); its encoder sees both, its decoder sees [z, y].
"""
from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import nn

from latent_atlas.models.config import VAEConfig
from latent_atlas.models.networks.vae import VAE


def _block(conv: nn.Module, channels: int) -> nn.Sequential:
    # BatchNorm2d and LeakyReLU with PyTorch's defaults (eps 1e-5, momentum 0.1, slope 0.01), as the zoo
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.LeakyReLU())


def _upsample(ch_in: int, ch_out: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(ch_in, ch_out, kernel_size=3, stride=2, padding=1, output_padding=1)


class ZooVAE(VAE):
    """The zoo's VanillaVAE / BetaVAE behind the one model interface: images in [0, 1] in and out."""

    kind = "vae"

    def _build_layers(self, cfg: VAEConfig) -> None:
        dims = list(cfg.hidden_dims)
        channels, side, _ = cfg.image_shape
        self.side = side // 2 ** len(dims)                    # of the last encoder block and decoder_input
        in_ch = channels + (1 if cfg.cond_dim else 0)         # the CVAE's extra condition channel
        self.encoder = nn.Sequential(*[_block(nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1), c_out)
                                       for c_in, c_out in zip([in_ch] + dims[:-1], dims)])
        feat = dims[-1] * self.side * self.side               # 512 * 2 * 2 for the zoo's 64 x 64 default
        self.fc_mu = nn.Linear(feat, cfg.latent_dim)
        self.fc_var = nn.Linear(feat, cfg.latent_dim)
        self.decoder_input = nn.Linear(cfg.latent_dim + cfg.cond_dim, feat)
        rev = dims[::-1]
        self.decoder = nn.Sequential(*[_block(_upsample(c_in, c_out), c_out) for c_in, c_out in pairwise(rev)])
        self.final_layer = nn.Sequential(_upsample(rev[-1], rev[-1]), nn.BatchNorm2d(rev[-1]), nn.LeakyReLU(),
                                         nn.Conv2d(rev[-1], channels, kernel_size=3, padding=1), nn.Tanh())

    # -- pixels: ours are always [0, 1]; the network's are what it was trained on ---------------------
    def _to_network(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 - 1 if self.config.output_range == "tanh" else x

    def _to_unit(self, y: torch.Tensor) -> torch.Tensor:
        if self.config.output_range == "tanh":
            return (y + 1) / 2                                # tanh's range is exactly the image range
        return y.clamp(0, 1)   # trained against [0, 1] targets: tanh's output is the image, a little over

    # -- the interface -------------------------------------------------------------------------------
    def _encoder_input(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self._to_network(x)

    def encode(self, x: torch.Tensor, c: torch.Tensor | None = None):
        c = self._check_condition(c, x.shape[0])
        h = self.encoder(self._encoder_input(x, c)).flatten(1)       # (B, hidden_dims[-1] * s * s)
        return self.fc_mu(h), self.fc_var(h)                          # each (B, latent_dim)

    def decode_logits(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """The network's own output (tanh, before the map to [0, 1])."""
        c = self._check_condition(c, z.shape[0])
        h = self.decoder_input(z if c is None else torch.cat([z, c], 1))   # (B, hidden_dims[-1] * s * s)
        h = h.view(-1, self.config.hidden_dims[-1], self.side, self.side)
        return self.final_layer(self.decoder(h))                          # (B, 3, H, W)

    def decode(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self._to_unit(self.decode_logits(z, c))

    def latent_weight(self) -> torch.Tensor:
        """(hidden_dims[-1] * s * s, latent_dim): `decoder_input`'s z columns (a CVAE's condition left out)."""
        return self.decoder_input.weight.detach()[:, :self.latent_dim]

    def recon_nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per image (B,): the zoo trains with MSE, i.e. a unit-variance Gaussian on the image
        the user sees (the same scale as our own Gaussian VAEs, so their ELBOs compare)."""
        sq = (self._to_unit(logits) - x).pow(2).flatten(1).sum(1)
        return 0.5 * sq + 0.5 * x[0].numel() * math.log(2 * math.pi)


class ZooCVAE(ZooVAE):
    """The zoo's ConditionalVAE: the condition enters the encoder as an extra image channel."""

    kind = "cvae"

    def _build_layers(self, cfg: VAEConfig) -> None:
        channels, side, width = cfg.image_shape
        self.embed_class = nn.Linear(cfg.cond_dim, side * width)
        self.embed_data = nn.Conv2d(channels, channels, kernel_size=1)
        super()._build_layers(cfg)

    def _encoder_input(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        _, _, h, w = x.shape
        label = self.embed_class(c).view(-1, 1, h, w)                # (B, 1, H, W)
        return torch.cat([self.embed_data(self._to_network(x)), label], dim=1)   # (B, C + 1, H, W)
