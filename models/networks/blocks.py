"""Building blocks whose every shape comes from the config: conv encoder/decoder and DCGAN G/D."""
from __future__ import annotations

import math

from torch import nn

from latent_atlas.models.config import GANConfig, VAEConfig, n_halvings


class ConvEncoder(nn.Module):
    """x (B, C, H, W) -> features (B, feature_dim): stride-2 convs, width doubling per halving."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        c, h, w = cfg.image_shape
        self.n_down = n_halvings(h, w)
        layers, ch_in = [], c
        for i in range(self.n_down):
            ch_out = cfg.width * 2 ** i
            layers += [nn.Conv2d(ch_in, ch_out, 4, 2, 1), nn.LeakyReLU(0.2)]
            ch_in = ch_out
        if self.n_down == 0:   # tiny or odd sizes: one shape-keeping conv
            layers += [nn.Conv2d(ch_in, cfg.width, 3, 1, 1), nn.LeakyReLU(0.2)]
            ch_in = cfg.width
        self.body = nn.Sequential(*layers)
        self.out_channels = ch_in
        self.out_hw = (h // 2 ** self.n_down, w // 2 ** self.n_down)
        self.feature_dim = ch_in * self.out_hw[0] * self.out_hw[1]

    def forward(self, x):
        return self.body(x).flatten(1)                       # (B, ch * h' * w')


class ConvDecoder(nn.Module):
    """h (B, feature_dim) -> logits (B, C, H, W): the mirror of ConvEncoder."""

    def __init__(self, cfg: VAEConfig, enc: ConvEncoder):
        super().__init__()
        self.ch, self.hw = enc.out_channels, enc.out_hw
        layers, ch_in = [], enc.out_channels
        for i in reversed(range(enc.n_down)):
            ch_out = cfg.width * 2 ** (i - 1) if i > 0 else cfg.image_shape[0]
            layers.append(nn.ConvTranspose2d(ch_in, ch_out, 4, 2, 1))
            if i > 0:
                layers.append(nn.LeakyReLU(0.2))
            ch_in = ch_out
        if enc.n_down == 0:
            layers.append(nn.Conv2d(ch_in, cfg.image_shape[0], 3, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, h):
        h = h.view(-1, self.ch, *self.hw)                    # (B, ch, H / 2**n, W / 2**n)
        return self.body(h)                                  # (B, C, H, W) logits


class DCGANGenerator(nn.Module):
    """The PyTorch examples' DCGAN generator, generalised: same `main.N` layer indices, so its
    checkpoints convert key for key. z (B, nz) -> images in [-1, 1] (tanh)."""

    def __init__(self, cfg: GANConfig):
        super().__init__()
        c, h, w = cfg.image_shape
        n_up = max(1, n_halvings(h, w))
        s_h, s_w = h // 2 ** n_up, w // 2 ** n_up            # 4x4 for 64x64, 7x7 for 28x28
        ch = cfg.width * 2 ** (n_up - 1)
        layers = [nn.ConvTranspose2d(cfg.latent_dim, ch, (s_h, s_w), 1, 0, bias=False),
                  nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, c, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z.view(z.shape[0], -1, 1, 1))       # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    """The PyTorch examples' DCGAN discriminator with the final Sigmoid dropped: it returns logits,
    so the losses use the numerically stable BCE-with-logits. Layer indices match `netD`."""

    def __init__(self, cfg: GANConfig):
        super().__init__()
        c, h, w = cfg.image_shape
        n_down = max(1, n_halvings(h, w))
        s_h, s_w = h // 2 ** n_down, w // 2 ** n_down
        ch = cfg.width
        layers = [nn.Conv2d(c, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2),
                       nn.LeakyReLU(0.2, inplace=True)]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, (s_h, s_w), 1, 0, bias=False))
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x).flatten()                        # (B,) logits of "real"


def dcgan_init(module: nn.Module) -> None:
    """DCGAN paper initialisation: N(0, 0.02) convs, N(1, 0.02) batch-norm scales."""
    name = type(module).__name__
    if "Conv" in name:
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def pixel_count(shape) -> int:
    return math.prod(shape)
