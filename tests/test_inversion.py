"""Your own image without Qt: reading and fitting files, VAE encoding, GAN inversion by optimisation."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.editor.core.inversion import (
    ImageFileError,
    copy_for_inversion,
    encode_image,
    invert_gan,
    is_image_file,
    read_image,
)
from latent_atlas.editor.core.loaded_model import Cancelled
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.data import load_dataset


@pytest.fixture(scope="module")
def gan(digits_gan_path):
    return load_checkpoint(digits_gan_path).model.eval()


def gan_image(model, z: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return images_to_hwc_uint8(model.decode(z[None]))[0].transpose(2, 0, 1).copy()   # (C, H, W)


def mse(model, z: np.ndarray, image: np.ndarray) -> float:
    with torch.no_grad():
        x = model.decode(torch.from_numpy(z)[None])
    return float((x - torch.from_numpy(image).float()[None] / 255).pow(2).mean())


def test_inversion_lowers_the_error_of_a_real_digit(gan):
    digit = load_dataset("digits").images[0]                             # (1, 8, 8) uint8
    result = invert_gan(copy_for_inversion(gan), digit, steps=150, restarts=4)
    assert result.error < result.initial_error
    assert abs(mse(gan, result.z, digit) - result.error) < 1e-5       # the error belongs to the z returned


def test_inversion_recovers_an_image_the_gan_made(gan):
    g = torch.Generator().manual_seed(3)
    target = gan_image(gan, torch.randn(gan.latent_dim, generator=g))
    others = [mse(gan, torch.randn(gan.latent_dim, generator=g).numpy(), target) for _ in range(16)]
    small = 0.05 * float(np.median(others))      # a twentieth of how far the GAN's other images are
    result = invert_gan(copy_for_inversion(gan), target)
    assert result.error < small
    # negative control: without optimising, the best random start is not that close
    assert invert_gan(copy_for_inversion(gan), target, steps=0).error > small


def test_inversion_reports_progress_and_stops_when_cancelled(gan):
    fractions = []
    invert_gan(copy_for_inversion(gan), gan_image(gan, torch.zeros(gan.latent_dim)), steps=40,
               progress=lambda f, text: fractions.append(f))
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    calls = []
    with pytest.raises(Cancelled):
        invert_gan(copy_for_inversion(gan), gan_image(gan, torch.zeros(gan.latent_dim)), steps=1000,
                   should_stop=lambda: calls.append(1) or len(calls) > 5)
    assert len(calls) == 6


def test_copy_made_on_the_inference_mode_worker_can_be_optimised_and_leaves_the_original_alone(gan):
    before = {k: v.clone() for k, v in gan.state_dict().items()}
    with torch.inference_mode():                  # the decode worker runs every task like this
        private = copy_for_inversion(gan)
        plain = copy.deepcopy(gan)
    target = gan_image(gan, torch.ones(gan.latent_dim))
    invert_gan(private, target, steps=20)
    with pytest.raises(RuntimeError, match="[Ii]nference"):   # negative control: a plain deepcopy there fails
        invert_gan(plain, target, steps=20)
    assert all(torch.equal(before[k], v) for k, v in gan.state_dict().items())
    assert all(p.requires_grad for p in gan.parameters())


def test_read_image_crops_the_centre_and_matches_the_model(tmp_path):
    # a wide RGBA picture: white left and right thirds, a black square in the middle
    pixels = np.full((30, 90, 4), 255, np.uint8)
    pixels[:, 30:60, :3] = 0
    path = tmp_path / "wide.png"
    Image.fromarray(pixels, "RGBA").save(path)
    gray = read_image(path, (1, 8, 8))
    assert gray.shape == (1, 8, 8) and gray.dtype == np.uint8
    assert gray.max() < 64         # only the black centre survives the crop (LANCZOS bleeds a little)
    colour = read_image(path, (3, 16, 12))
    assert colour.shape == (3, 16, 12)


@pytest.mark.parametrize("content", [b"not an image at all", b"\x89PNG\r\n\x1a\n truncated"])
def test_bad_image_files_raise_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "holiday.png"
    path.write_bytes(content)
    with pytest.raises(ImageFileError, match="holiday.png"):
        read_image(path, (1, 8, 8))
    with pytest.raises(ImageFileError, match="missing.png"):
        read_image(tmp_path / "missing.png", (1, 8, 8))


def test_images_are_recognised_by_their_bytes_not_their_name(tmp_path, digits_vae_path):
    disguised = tmp_path / "digit.safetensors"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(disguised, format="PNG")
    renamed = tmp_path / "model.png"
    renamed.write_bytes(digits_vae_path.read_bytes())
    assert is_image_file(disguised)
    assert not is_image_file(renamed)


def test_encode_image_is_the_posterior_mean(digits_vae_path):
    model = load_checkpoint(digits_vae_path).model.eval()
    digit = load_dataset("digits").images[5]
    with torch.inference_mode():
        z = encode_image(model, digit)
        mu, _ = model.encode(torch.from_numpy(digit).float()[None] / 255)
    assert z.shape == (model.latent_dim,) and np.allclose(z, mu[0].numpy(), atol=1e-6)


def test_the_written_out_adam_makes_torch_adams_steps():
    """inversion._Adam (written out so that the first inversion does not wait 2-10 s for torch.optim to
    import torch._dynamo) takes the same steps as torch.optim.Adam, learning rate changing every step."""
    from latent_atlas.editor.core.inversion import _Adam

    target = torch.linspace(-2, 2, 24).reshape(3, 8)
    ours = torch.zeros(3, 8, requires_grad=True)
    theirs = torch.zeros(3, 8, requires_grad=True)
    mine, reference = _Adam(ours), torch.optim.Adam([theirs], lr=0.1)
    for step in range(50):
        lr = 0.1 * (1 - step / 60)
        for z in (ours, theirs):
            z.grad = None
            ((z - target) ** 3).abs().sum().backward()
        mine.step(lr)
        reference.param_groups[0]["lr"] = lr
        reference.step()
    assert torch.allclose(ours, theirs, atol=1e-6), (ours - theirs).abs().max()
    assert (ours - target).abs().max() < (target.abs().max()), "and it moved towards the target"
