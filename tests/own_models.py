"""Small models written the way users write theirs (not our classes): a VAE returning (mu, logvar), a
tanh-output VAE on [-1, 1] data, a spatial-latent VAE, a CVAE taking decode(z, c), a DCGAN-style generator
wanting (B, nz, 1, 1), and an encoder that returns a torch.distributions.Normal."""
from __future__ import annotations

import torch
from torch import nn


class DigitsVAE(nn.Module):
    """The PyTorch-examples shape of VAE on 8x8 images: flattened decoder output, a latent_dim attribute."""

    def __init__(self, latent_dim: int = 6):
        super().__init__()
        self.latent_dim = latent_dim
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 2 * latent_dim))
        self.dec = nn.Sequential(nn.Linear(latent_dim, 48), nn.ReLU(), nn.Linear(48, 64), nn.Sigmoid())

    def encode(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z):
        return self.dec(z)                                  # (B, 64): the adapter reshapes to (1, 8, 8)


class TanhVAE(DigitsVAE):
    """Trained on Normalize(0.5, 0.5) data: takes [-1, 1] images, returns tanh outputs."""

    def __init__(self, latent_dim: int = 5):
        super().__init__(latent_dim)
        self.dec[-1] = nn.Tanh()

    def decode(self, z):
        return self.dec(z).view(-1, 1, 8, 8)


class SpatialVAE(nn.Module):
    """A latent of shape (4, 2, 2) per image, as latent-diffusion autoencoders have; no latent_dim attribute."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 8, 3, 2, 1))   # 8 -> 2
        self.dec = nn.Sequential(nn.ConvTranspose2d(4, 16, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(16, 1, 4, 2, 1),
                                 nn.Sigmoid())

    def encode(self, x):
        h = self.enc(x)
        return h[:, :4], h[:, 4:]                              # (B, 4, 2, 2) each

    def decode(self, z):
        return self.dec(z)


class DigitsCVAE(nn.Module):
    latent_dim = 3

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.enc = nn.Linear(64 + n_classes, 6)
        self.dec = nn.Sequential(nn.Linear(3 + n_classes, 64), nn.Sigmoid())

    def encode(self, x, c):
        return self.enc(torch.cat([x.flatten(1), c], 1)).chunk(2, dim=1)

    def decode(self, z, c):
        return self.dec(torch.cat([z, c], 1)).view(-1, 1, 8, 8)


class Generator(nn.Module):
    """The PyTorch DCGAN example's layout, small: nz x 1 x 1 -> 3 x 16 x 16, tanh."""

    def __init__(self, nz: int = 8):
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(nn.ConvTranspose2d(nz, 16, 4, 1, 0), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.main(z)


class NormalVAE(DigitsVAE):
    def encode(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return torch.distributions.Normal(mu, torch.exp(0.5 * logvar))


def build_digits_vae():
    torch.manual_seed(0)
    return DigitsVAE()
