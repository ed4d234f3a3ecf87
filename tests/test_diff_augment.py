"""Differentiable augmentation for the GAN (models/networks/diff_augment.py, GANConfig.augment)."""
from __future__ import annotations

import pytest
import torch

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint
from latent_atlas.models.errors import ConfigError
from latent_atlas.models.networks.diff_augment import diff_augment
from latent_atlas.models.registry import build_model, make_config


def test_augmentation_keeps_the_shape_varies_per_image_and_passes_gradients():
    torch.manual_seed(0)
    x = (torch.rand(16, 3, 32, 32) * 2 - 1).requires_grad_(True)
    y = diff_augment(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    cut = (y == 0).flatten(1).float().mean(1)                       # the cutout square: about a quarter
    assert 0.15 < cut.mean() < 0.35
    same = diff_augment(x.detach()[:1].expand(4, -1, -1, -1))
    assert not torch.allclose(same[0], same[1])                     # a random augmentation per image
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0            # the generator learns through it


def test_a_gan_trains_with_augmentation_and_its_files_keep_the_choice(tmp_path):
    cfg = make_config("gan", {"image_shape": [3, 16, 16], "latent_dim": 8, "width": 4, "augment": True})
    torch.manual_seed(0)
    gan = build_model("gan", cfg)
    terms = gan.train_step(torch.rand(8, 3, 16, 16), None, gan.make_optimizers(2e-4))
    assert all(torch.isfinite(v) for v in terms.values())
    path = save_checkpoint(tmp_path / "g.safetensors", gan, dataset={"name": "none"})
    assert load_checkpoint(path).model.config.augment is True
    plain = make_config("gan", {"image_shape": [3, 16, 16], "latent_dim": 8, "width": 4})
    assert plain.augment is False                                    # files written before it: off


@pytest.mark.parametrize("value", [1, 0, "true", None, 1.0])
def test_augment_is_true_or_false_only(value):
    with pytest.raises(ConfigError, match="augment"):
        make_config("gan", {"augment": value})


@pytest.mark.parametrize("side", [16, 32, 17])
def test_the_cutout_square_is_half_the_side_where_it_fits_whole(side):
    torch.manual_seed(1)
    x = torch.ones(64, 3, side, side)
    holes = (diff_augment(x, translation=0.0) == 0).all(1).flatten(1).sum(1)   # pixels cut in every channel
    want = int(side * 0.5 + 0.5) ** 2
    assert holes.max() == want and (holes <= want).all()         # 16x16 on 32 px (it was 15x15)
