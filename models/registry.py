"""Kind name -> (config class, model class). No if/elif chains over kinds; no class paths in files."""
from __future__ import annotations

import json

from latent_atlas.models.config import GANConfig, VAEConfig, config_from_dict
from latent_atlas.models.errors import ConfigError
from latent_atlas.models.networks.gan import GAN
from latent_atlas.models.networks.vae import CVAE, VAE
from latent_atlas.models.networks.zoo import ZooCVAE, ZooVAE

REGISTRY = {
    "vae": (VAEConfig, VAE),     # beta = 0 autoencoder, 1 VAE, > 1 beta-VAE
    "cvae": (VAEConfig, CVAE),
    "gan": (GANConfig, GAN),
}
# (kind, config.arch) -> the class of an arch whose network is not built from `width` and `hidden`
ARCH_CLASSES = {
    ("vae", "zoo"): ZooVAE,      # the PyTorch-VAE zoo's VanillaVAE / BetaVAE, converted
    ("cvae", "zoo"): ZooCVAE,    # its ConditionalVAE
}


def config_class(kind: str):
    try:
        return REGISTRY[kind][0]
    except KeyError:
        raise ConfigError(f"unknown model kind {kind!r} (known: {', '.join(REGISTRY)})") from None


def make_config(kind: str, data: dict | str):
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
    config = config_from_dict(config_class(kind), data)
    if kind == "cvae" and config.cond_dim == 0:
        raise ConfigError("a cvae needs cond_dim > 0")
    return config


def build_model(kind: str, config, device=None):
    """A fresh model of `kind`. `device="meta"` allocates nothing (to check shapes and sizes first)."""
    config_class(kind)
    config.check()
    model_cls = ARCH_CLASSES.get((kind, getattr(config, "arch", None)), REGISTRY[kind][1])   # GANs: no arch
    if device is not None and str(device) == "meta":
        with __import__("torch").device("meta"):
            return model_cls(config)
    model = model_cls(config)
    return model.to(device) if device is not None else model
