"""Turn user-level choices (family, dataset shape, sizes) into a registry kind and a frozen config."""
from __future__ import annotations

from latent_atlas.models.config import GANConfig, VAEConfig
from latent_atlas.models.errors import ConfigError

# family -> (registry kind, config overrides); beta-VAE and AE are VAEs with another KL weight
FAMILIES = {
    "vae": ("vae", {}),
    "betavae": ("vae", {"beta": 4.0}),
    "ae": ("vae", {"beta": 0.0}),
    "cvae": ("cvae", {}),
    "gan": ("gan", {}),
}
DEFAULT_LR = {"vae": 1e-3, "cvae": 1e-3, "gan": 2e-4}


def make_model_config(family: str, image_shape: tuple[int, int, int], *, latent_dim: int | None = None,
                      beta: float | None = None, cond_dim: int = 0, width: int | None = None,
                      hidden: int | None = None, likelihood: str = "bernoulli", consistency: float | None = None,
                      condition: str = "labels"):
    """Returns (kind, config). cond_dim is the size of the CVAE condition: one-hot classes (condition "labels")
    or independent binary attributes ("attributes")."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r} (choose from {', '.join(FAMILIES)})")
    kind, overrides = FAMILIES[family]
    if consistency and kind != "cvae":
        raise ConfigError("--consistency applies to a CVAE (--model cvae)")
    image_shape = tuple(int(v) for v in image_shape)
    if kind == "gan":
        if beta is not None:
            raise ConfigError("--beta applies to the VAE family, not to a GAN")
        config = GANConfig(image_shape=image_shape, latent_dim=latent_dim or 64,
                           width=width or (32 if image_shape[1] <= 32 else 64))
    else:
        if kind == "cvae" and cond_dim <= 0:
            raise ConfigError("a CVAE needs a dataset with labels or attributes to condition on")
        small = image_shape[1] * image_shape[2] <= 64
        config = VAEConfig(image_shape=image_shape, latent_dim=latent_dim or (8 if small else 16),
                           beta=float(beta if beta is not None else overrides.get("beta", 1.0)),
                           likelihood=likelihood, width=width or 32, hidden=hidden or 256,
                           cond_dim=cond_dim if kind == "cvae" else 0, consistency=float(consistency or 0.0),
                           condition_kind=condition if kind == "cvae" else "labels")
    config.check()
    return kind, config
