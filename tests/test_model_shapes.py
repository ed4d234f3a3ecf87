"""Every family at every image size and channel count keeps the one model interface: shapes, ranges,
loss terms, one training step; plus the VAE's density estimates and the configs' range checks."""
from __future__ import annotations

import math

import pytest
import torch

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.config import GANConfig, VAEConfig
from latent_atlas.models.data import load_dataset
from latent_atlas.models.errors import ConfigError
from latent_atlas.models.registry import build_model

SIZES = [(8, 8), (28, 28), (32, 32), (64, 64), (16, 32), (48, 48)]
FAMILIES = {
    "vae": lambda shape: ("vae", VAEConfig(image_shape=shape, latent_dim=3, width=4, hidden=16)),
    "vae-mlp": lambda shape: ("vae", VAEConfig(image_shape=shape, latent_dim=3, hidden=16, arch="mlp")),
    "cvae": lambda shape: ("cvae", VAEConfig(image_shape=shape, latent_dim=3, width=4, hidden=16, cond_dim=5)),
    "gan": lambda shape: ("gan", GANConfig(image_shape=shape, latent_dim=6, width=4)),
}
VAE_TERMS = {"loss", "recon", "kl", "elbo", "beta_kl"}
GAN_TERMS = {"loss", "d_loss", "g_loss", "d_real", "d_fake", "jsd"}
B = 3


def _condition(model, n):
    if model.cond_dim == 0:
        return None
    return torch.nn.functional.one_hot(torch.arange(n) % model.cond_dim, model.cond_dim).float()


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("hw", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_interface_shapes_ranges_and_terms(family, hw, channels):
    torch.manual_seed(0)
    shape = (channels, *hw)
    kind, config = FAMILIES[family](shape)
    model = build_model(kind, config)
    x = torch.rand(B, *shape)
    c = _condition(model, B)
    z = torch.randn(B, model.latent_dim)
    assert model.image_shape == shape and model.kind == kind

    if model.can_encode:
        mu, logvar = model.encode(x, c)
        assert mu.shape == logvar.shape == (B, config.latent_dim)
    else:
        with pytest.raises(NotImplementedError):
            model.encode(x)
    images = model.decode(z, c)
    assert images.shape == (B, *shape)
    assert images.min() >= 0.0 and images.max() <= 1.0
    samples = model.sample(5, None if c is None else c[0], generator=torch.Generator().manual_seed(1))
    assert samples.shape == (5, *shape) and 0.0 <= samples.min() and samples.max() <= 1.0

    terms = model.loss(x, c)
    assert set(terms) == (GAN_TERMS if kind == "gan" else VAE_TERMS)
    assert all(t.dim() == 0 and math.isfinite(float(t.detach())) for t in terms.values())
    before = [p.detach().clone() for p in model.parameters()]
    step_terms = model.train_step(x, c, model.make_optimizers(1e-3))
    assert set(step_terms) == set(terms)
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters())), "a step changed nothing"


def test_cvae_without_a_condition_is_a_clear_value_error():
    model = build_model("cvae", VAEConfig(image_shape=(1, 8, 8), latent_dim=2, width=4, hidden=8, cond_dim=4))
    with pytest.raises(ValueError, match="needs a condition vector of size 4"):
        model.encode(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="needs a condition"):
        model.decode(torch.randn(2, 2))
    with pytest.raises(ValueError, match=r"condition must have shape \(2, 4\)"):
        model.decode(torch.randn(2, 2), torch.zeros(2, 3))


def test_beta_zero_is_an_autoencoder_and_elbo_is_the_true_bound():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 16, 16)
    ae = build_model("vae", VAEConfig(image_shape=(1, 16, 16), latent_dim=3, width=4, hidden=16, beta=0.0))
    with torch.no_grad():
        terms = ae.loss(x)
    assert torch.equal(terms["loss"], terms["recon"])
    assert float(terms["kl"]) > 0 and float(terms["beta_kl"]) == 0.0
    assert torch.allclose(terms["elbo"], -(terms["recon"] + terms["kl"]))   # beta never enters the ELBO
    bvae = build_model("vae", VAEConfig(image_shape=(1, 16, 16), latent_dim=3, width=4, hidden=16, beta=4.0))
    with torch.no_grad():
        t4 = bvae.loss(x)
    assert torch.allclose(t4["loss"], t4["recon"] + 4.0 * t4["kl"])
    assert torch.allclose(t4["elbo"], -(t4["recon"] + t4["kl"]))


def test_importance_weighted_bound_is_above_the_elbo_and_tightens_with_k(digits_vae_path):
    model = load_checkpoint(digits_vae_path).model
    x = torch.from_numpy(load_dataset("digits", split="test").images).float() / 255.0   # 359 held-out images
    torch.manual_seed(0)
    with torch.inference_mode():
        elbo = model.elbo(x, samples=8).mean().item()
        iw = {k: model.iw_log_likelihood(x, k=k).mean().item() for k in (1, 4, 16, 64)}
    assert abs(iw[1] - elbo) < 1.0                      # K = 1 is a one-sample ELBO estimate
    assert iw[64] > elbo + 0.2
    assert iw[1] < iw[4] < iw[16] < iw[64]
    assert all(math.isfinite(v) for v in iw.values())


@pytest.mark.parametrize("make", [
    lambda: VAEConfig(latent_dim=0),
    lambda: VAEConfig(latent_dim=5000),
    lambda: VAEConfig(width=0),
    lambda: VAEConfig(hidden=10 ** 6),
    lambda: VAEConfig(image_shape=(2, 28, 28)),
    lambda: VAEConfig(image_shape=(1, 3, 28)),
    lambda: VAEConfig(image_shape=(1, 28, 4096)),
    lambda: VAEConfig(image_shape=(28, 28)),
    lambda: VAEConfig(beta=-1.0),
    lambda: VAEConfig(likelihood="poisson"),
    lambda: VAEConfig(arch="transformer"),
    lambda: VAEConfig(latent_dim=2.5),
    lambda: VAEConfig(cond_dim=-1),
    lambda: GANConfig(latent_dim=0),
    lambda: GANConfig(width=10 ** 5),
    lambda: GANConfig(cond_dim=3),
    lambda: GANConfig(image_shape=(4, 32, 32)),
], ids=["latent0", "latent5000", "width0", "hidden1e6", "channels2", "side3", "side4096", "shape2d", "beta-1",
        "likelihood", "arch", "latent_float", "cond-1", "gan_latent0", "gan_width", "gan_cond", "gan_channels4"])
def test_out_of_range_configs_raise_config_error(make):
    config = make()
    kind = "gan" if isinstance(config, GANConfig) else "vae"
    with pytest.raises(ConfigError):
        config.check()
    with pytest.raises(ConfigError):
        build_model(kind, config)


def test_in_range_configs_pass_the_same_checks():
    """Negative control for the test above: the checks do not refuse everything."""
    VAEConfig(image_shape=(3, 4, 512), latent_dim=1024, beta=0.0).check()
    GANConfig(image_shape=(1, 8, 8), latent_dim=1, width=1).check()
