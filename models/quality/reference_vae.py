"""The reference: the PyTorch examples' VAE (784-400-20 MLP, Bernoulli/BCE, Adam 1e-3, batch 128), trained
by our own Trainer on Fashion-MNIST for the same number of epochs as the model under test, so each reported
number has a known-good neighbour measured in the same run."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from latent_atlas.models.config import VAEConfig
from latent_atlas.models.data import load_dataset
from latent_atlas.models.registry import build_model
from latent_atlas.models.training.events import TrainConfig, TrainEvent
from latent_atlas.models.training.trainer import Trainer
from latent_atlas.models.training.training_data import training_tensors

REFERENCE_CONFIG = VAEConfig(image_shape=(1, 28, 28), arch="mlp", hidden=400, latent_dim=20,
                             likelihood="bernoulli", beta=1.0)


def train_reference_vae(out: str | Path, epochs: int, *, seed: int = 0, limit: int | None = None,
                        device="cpu", on_event: Callable[[TrainEvent], None] | None = None) -> Path:
    """Trains the reference on the Fashion-MNIST train split and saves it to `out`; returns `out`."""
    data = load_dataset("fashion-mnist", split="train", limit=limit)
    images, _, _ = training_tensors(data, conditional=False)
    torch.manual_seed(seed)
    model = build_model("vae", REFERENCE_CONFIG)
    config = TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=seed, event_interval=1.0)
    dataset = {**data.describe(), "condition": None, "condition_names": [], "family": "vae"}
    trainer = Trainer(model, images, None, config, out=out, dataset=dataset, device=device)
    for event in trainer.run():
        if on_event is not None:
            on_event(event)
    return Path(out)
