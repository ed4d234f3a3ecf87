"""The off-data warning agrees with the density (issue 15, finding 10), on the bundled Fashion-MNIST models
and their real data: a prior sample ('New image with this condition') is not flagged but 1 time in 100, a
noise image is (its decode is unlikely), a test image is not, and a GAN click far off the map is (its
norm leaves the prior's shell, while its nearest-sample distance barely grows in 64 dimensions)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_atlas.editor.core.density import OffDataCheck, density_of, describe
from latent_atlas.editor.core.inversion import encode_image
from latent_atlas.editor.core.loaded_model import load_for_editor
from latent_atlas.models.bundled_files import resource_path

K = 8


@pytest.fixture(scope="module", params=["fashion_vae", "fashion_cvae"])
def vae(request):
    return load_for_editor(resource_path("models", f"{request.param}.safetensors"), device=torch.device("cpu"), map_limit=2000)


@pytest.fixture(scope="module")
def gan():
    return load_for_editor(resource_path("models", "fashion_gan.safetensors"), device=torch.device("cpu"), map_limit=2000)


def _condition(loaded):
    return np.eye(loaded.model.cond_dim, dtype=np.float32)[6] if loaded.model.cond_dim else None


def test_prior_samples_and_test_images_stay_and_noise_leaves(vae):
    off, c = OffDataCheck(vae.latents), _condition(vae)
    prior = np.random.default_rng(3).standard_normal((60, vae.latents.shape[1])).astype(np.float32)
    flagged = [density_of(vae.model, z, c, off, k=K).off_data for z in prior]
    assert np.mean(flagged) <= 0.1, "a fresh prior sample is what the model draws: rarely 'off the data'"
    image = vae.images[11].transpose(2, 0, 1)          # (C, H, W) uint8, a real test image
    near = density_of(vae.model, encode_image(vae.model, image, c), c, off, k=K)
    assert not near.off_data, describe(near)[1]
    noise = (np.random.default_rng(4).random(image.shape) * 255).astype(np.uint8)
    d = density_of(vae.model, encode_image(vae.model, noise, c), c, off, k=K)
    assert d.off_data and d.unlikely and "below 99% of the data's decodes" in describe(d)[1]
    assert d.elbo < d.elbo_floor < near.elbo


def test_the_old_rule_flagged_most_prior_samples(vae):
    """The negative control: the data's own nearest-neighbour gap alone flags most prior draws."""
    off = OffDataCheck(vae.latents)
    prior = np.random.default_rng(3).standard_normal((200, vae.latents.shape[1])).astype(np.float32)
    data_gap = off._nearest().threshold(0.99)
    assert np.mean(off._nearest().distance(torch.from_numpy(prior)).numpy() > data_gap) > 0.5
    assert np.mean(off.frames_off_data(prior)) < 0.1


def test_a_gan_click_far_off_the_map_leaves_the_prior(gan):
    off = OffDataCheck(gan.latents)
    lo, hi = gan.embedding.min(0), gan.embedding.max(0)
    far = gan.projection.inverse((hi + (hi - lo) * 0.5)[None].astype(np.float32))[0]
    d = density_of(gan.model, far, None, off)
    assert d.off_data and d.outside_prior and "beyond 99% of the prior" in describe(d)[1]
    assert not density_of(gan.model, gan.latents[0], None, off).off_data
