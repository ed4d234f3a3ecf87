"""ModuleModel: someone else's VAE, CVAE or GAN generator seen through GenerativeModel.

The editor and every tool speak one interface: latents are flat (B, D) rows, images are (B, C, H, W) in
[0, 1]. The user's module may want a (B, 4, 8, 8) latent, return tanh outputs, flattened outputs, a
(mean, log-variance) pair, a torch.distributions.Normal or only a mean; this class does the reshaping and
mapping in one place. Weights stay the user's: nothing here changes, trains or copies them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from latent_atlas.models.base import GenerativeModel
from latent_atlas.models.errors import ConfigError
from latent_atlas.models.networks.vae import elbo_estimate, iw_estimate

RANGES = ("unit", "tanh", "logits")      # sigmoid-like [0, 1]; tanh-like [-1, 1]; logits (sigmoid applied here)
LIKELIHOODS = ("bernoulli", "gaussian")


@dataclass(frozen=True)
class ModuleConfig:
    image_shape: tuple[int, int, int]
    latent_shape: tuple[int, ...]          # what the module's decode takes per row, e.g. (128,) or (4, 8, 8)
    cond_dim: int = 0
    output_range: str = "unit"
    input_range: str = "unit"              # what its encode expects: "unit" [0, 1] or "tanh" [-1, 1]
    likelihood: str | None = None          # p(x|z) for the ELBO; None: density is not available
    sigma: float = 1.0                     # the Gaussian likelihood's standard deviation, in [0, 1] pixel units
    encoder_gives_logvar: bool = True
    gan: bool = False

    @property
    def latent_dim(self) -> int:
        return int(math.prod(self.latent_shape))


class ModuleModel(GenerativeModel):
    """`net` with `decode(z[, c])` (a GAN: a generator called as net(z)) and, for a VAE, `encode(x[, c])`."""

    def __init__(self, net, config: ModuleConfig):
        super().__init__(config)
        if isinstance(net, nn.Module):
            self.net = net                         # a submodule: .to(), .eval() and parameters() reach it
        else:
            object.__setattr__(self, "net", net)   # an object with decode(): held, not registered
        self.kind = "gan" if config.gan else ("cvae" if config.cond_dim else "vae")
        self.can_encode = not config.gan and callable(getattr(net, "encode", None))
        self._has_decode = callable(getattr(net, "decode", None))      # else a generator: net(z)

    @property
    def device(self) -> torch.device:
        params = self.net.parameters() if hasattr(self.net, "parameters") else iter(())
        first = next(iter(params), None)
        return first.device if first is not None else torch.device("cpu")

    @property
    def has_density(self) -> bool:
        return self.can_encode and self.config.likelihood is not None and self.config.encoder_gives_logvar

    # -- the interface --------------------------------------------------------------------------------
    def decode(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        out = self.raw_decode(z, c)
        if self.config.output_range == "tanh":
            out = (out + 1) / 2
        elif self.config.output_range == "logits":
            out = torch.sigmoid(out)
        return out.clamp(0, 1)

    def raw_decode(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """The module's own output, reshaped to (B, C, H, W) but not mapped to [0, 1]."""
        b = z.shape[0]
        z = z.to(self.device).reshape(b, *self.config.latent_shape)
        c = self._check_condition(c, b)
        fn = self.net.decode if self._has_decode else self.net
        out = fn(z) if c is None else fn(z, c)
        out = first_tensor(out, "decode")
        return out.float().reshape(b, *self.config.image_shape)

    def encode(self, x: torch.Tensor, c: torch.Tensor | None = None):
        if not self.can_encode:
            raise NotImplementedError(f"a {self.kind} model has no encoder")
        b = x.shape[0]
        x = x.to(self.device, torch.float32)
        if self.config.input_range == "tanh":
            x = x * 2 - 1
        c = self._check_condition(c, b)
        out = self.net.encode(x) if c is None else self.net.encode(x, c)
        mean, logvar = posterior(out)
        mean = mean.float().reshape(b, -1)
        if logvar is None:
            logvar = torch.full_like(mean, -30.0)        # a deterministic encoder: a point posterior
        return mean, logvar.float().reshape(b, -1)

    def prior_sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None):
        z = torch.randn(n, self.latent_dim, generator=generator, device="cpu")
        return (z * temperature).to(self.device)

    # -- density: needs the likelihood, which a module does not say ------------------------------------
    def log_px_given_z(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.config.likelihood == "bernoulli":
            p = x_hat.clamp(1e-6, 1 - 1e-6)
            return (x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
        if self.config.likelihood == "gaussian":
            s = float(self.config.sigma)
            sq = ((x - x_hat) / s).pow(2).flatten(1).sum(1)
            return -0.5 * sq - x[0].numel() * (math.log(s) + 0.5 * math.log(2 * math.pi))
        raise ConfigError("the ELBO needs the likelihood: pass likelihood='bernoulli' or "
                          "likelihood='gaussian' (with sigma=) when opening the module")

    def elbo(self, x: torch.Tensor, c: torch.Tensor | None = None, samples: int = 1) -> torch.Tensor:
        mu, logvar = self.encode(x, c)
        x = x.to(mu.device)
        return elbo_estimate(mu, logvar, lambda z: self.log_px_given_z(self.decode(z, c), x), samples)

    def iw_log_likelihood(self, x: torch.Tensor, c: torch.Tensor | None = None, k: int = 64) -> torch.Tensor:
        mu, logvar = self.encode(x, c)
        x = x.to(mu.device)
        return iw_estimate(mu, logvar, lambda z: self.log_px_given_z(self.decode(z, c), x), k)

    def loss(self, x, c=None):
        raise ConfigError("training a module opened with --module or view() is not supported: train it in "
                          "your own code, then open it again")


def first_tensor(out, what: str) -> torch.Tensor:
    """A module's output: a tensor, or the first tensor of a tuple/list (e.g. (x_hat, extra))."""
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ConfigError(f"{what}() returned {type(out).__name__}, not a tensor")
    return out


def posterior(out) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(mean, log-variance or None) from what an encode() returns: a mean; (mean, log-variance);
    a dict with mu/mean and logvar/log_var; or a torch.distributions.Normal."""
    if isinstance(out, torch.Tensor):
        return out, None
    if isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out):
        return out[0], out[1]
    if isinstance(out, dict):
        mean = next((out[k] for k in ("mu", "mean", "loc") if k in out), None)
        logvar = next((out[k] for k in ("logvar", "log_var", "log_variance") if k in out), None)
        if isinstance(mean, torch.Tensor):
            return mean, logvar if isinstance(logvar, torch.Tensor) else None
    if isinstance(out, torch.distributions.Normal):
        return out.loc, 2 * out.scale.log()
    if isinstance(out, torch.distributions.Independent) and isinstance(out.base_dist, torch.distributions.Normal):
        return out.base_dist.loc, 2 * out.base_dist.scale.log()
    shape = type(out).__name__ if not isinstance(out, (tuple, list)) else f"a {type(out).__name__} of {len(out)}"
    raise ConfigError(f"encode() returned {shape}: expected the mean, (mean, log-variance), or a Normal")
