"""Condition consistency for a CVAE: decoded prior samples must be read back as the condition they were given.

A small classifier (the "condition reader") learns on real images to predict their condition; the decoder
is then asked to make prior samples, decoded under a condition a, that the reader assigns to a. The
reader's weights are held fixed for that second term, so the decoder cannot make its task easier by
teaching the reader to accept blur: only the real images train the reader. This is the auxiliary-classifier
idea of AC-GAN (Odena et al., 2017) applied to a CVAE decoder. It is an extra term, not part of the ELBO:
the reported `elbo` stays the true bound.

Labels (one-hot rows, config condition_kind "labels") use the softmax cross-entropy; attribute vectors
(independent 0/1 entries, "attributes") a per-attribute binary cross-entropy.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from latent_atlas.models.config import VAEConfig
from latent_atlas.models.networks.blocks import ConvEncoder


class ConditionReader(nn.Module):
    """image (B, C, H, W) in [0, 1] -> condition logits (B, cond_dim)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.features = ConvEncoder(cfg)
        self.head = nn.Linear(self.features.feature_dim, cfg.cond_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def condition_nll(logits: torch.Tensor, c: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean negative log-likelihood of conditions c (B, cond_dim) under the reader's logits; kind is the
    config's condition_kind, fixed for a model so the objective never changes from batch to batch."""
    if kind == "labels":
        return F.cross_entropy(logits, c.argmax(1))
    return F.binary_cross_entropy_with_logits(logits, c.clamp(0, 1))


def consistency_terms(model, x: torch.Tensor, c: torch.Tensor) -> dict[str, torch.Tensor]:
    """The reader's loss on real images, and the decoder's on prior samples given shuffled conditions."""
    reader, kind = model.condition_reader, model.config.condition_kind
    real = condition_nll(reader(x), c, kind)
    c_fake = c[torch.randperm(c.shape[0], device=c.device)]     # conditions as often as the data has them
    z = torch.randn(c.shape[0], model.latent_dim, device=x.device)
    fake_images = torch.sigmoid(model.decode_logits(z, c_fake))
    fixed = {name: p.detach() for name, p in reader.named_parameters()}
    fake = condition_nll(functional_call(reader, fixed, (fake_images,)), c_fake, kind)
    return {"reader": real, "consistency": fake}
