"""Density of the current image without Qt: ELBO and IW for VAEs, realness for GANs, the off-data warning."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latent_atlas.editor.core.density import (
    OffDataCheck,
    density_of,
    describe,
    describe_off_frames,
    discriminator_note,
)
from latent_atlas.editor.core.loaded_model import load_for_editor


@pytest.fixture(scope="module")
def vae(digits_vae_path):
    return load_for_editor(digits_vae_path, device=torch.device("cpu"))


@pytest.fixture(scope="module")
def cvae(digits_cvae_path):
    return load_for_editor(digits_cvae_path, device=torch.device("cpu"))


@pytest.fixture(scope="module")
def gan(digits_gan_path):
    return load_for_editor(digits_gan_path, device=torch.device("cpu"))


@pytest.mark.parametrize("which", ["vae", "cvae"])
def test_importance_weighted_estimate_is_at_least_the_elbo_on_average(which, request):
    loaded = request.getfixturevalue(which)
    gaps = []
    for i in range(0, 200, 10):
        c = None if loaded.conditions is None else loaded.conditions[i]
        d = density_of(loaded.model, loaded.latents[i], c)
        assert d.kind == "vae" and math.isfinite(d.elbo) and math.isfinite(d.iw) and d.k == 64
        gaps.append(d.iw - d.elbo)
    assert np.mean(gaps) > 0


def test_numbers_are_reproducible_and_leave_the_global_rng_alone(vae):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = density_of(vae.model, vae.latents[3])
    assert torch.equal(torch.rand(1), expected_next)     # the fixed seed inside did not leak out
    assert density_of(vae.model, vae.latents[3]) == first
    assert density_of(vae.model, vae.latents[4]) != first


def test_gan_realness_is_finite_and_positive(gan):
    for z in (gan.latents[0], gan.latents[1] * 3, np.zeros_like(gan.latents[0])):
        d = density_of(gan.model, z)
        assert d.kind == "gan" and d.elbo is None
        assert math.isfinite(d.realness) and d.realness > 0
        assert "realness" in describe(d)[0]


@pytest.mark.parametrize("which", ["vae", "gan"])
def test_off_data_warning_far_away_and_not_at_a_data_latent(which, request):
    loaded = request.getfixturevalue(which)
    off = OffDataCheck(loaded.latents)
    far = density_of(loaded.model, loaded.latents[0] * 10, off=off)
    near = density_of(loaded.model, loaded.latents[0], off=off)
    assert far.off_data and "leaves the data" in describe(far)[1]
    assert not near.off_data and near.distance == 0.0 and describe(near)[1] == ""
    assert off.leaves_data(loaded.latents[0] * 10) and not off.leaves_data(loaded.latents[0])
    assert 0 < off.threshold < far.distance


def test_an_unconverted_discriminator_is_called_out(gan):
    note = discriminator_note({"discriminator": "not converted"})
    assert "not converted" in note
    assert discriminator_note(gan.checkpoint.dataset) == ""
    d = density_of(gan.model, gan.latents[0], note=note)
    assert "not converted" in describe(d)[0]


def test_a_strip_knows_which_frames_leave_the_data():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((500, 4)).astype(np.float32)
    off = OffDataCheck(data)
    frames = np.stack([data[0] * t for t in (1.0, 1.0, 30.0, 40.0, 1.0, 50.0)])
    flags = off.frames_off_data(frames)
    assert flags.tolist() == [False, False, True, True, False, True]
    assert describe_off_frames(flags) == "frames 3–4 and 6 of 6 leave the data"
    assert describe_off_frames(np.array([False, True, False])) == "frame 2 of 3 leaves the data"
    assert describe_off_frames(np.zeros(8, bool)) == ""
    assert describe_off_frames(np.array([True, False, True, False, True])) == "frames 1, 3 and 5 of 5 leave the data"
    assert OffDataCheck(data[:1]).frames_off_data(frames).tolist() == [False] * 6    # no threshold: no warning
