"""The reference: the PyTorch examples' VAE (784-400-20 MLP, Bernoulli/BCE, Adam 1e-3, batch 128), trained
by our own Trainer on Fashion-MNIST for the same number of epochs as the model under test, so each reported
number has a known-good neighbour measured in the same run. The run is a RunSpec like every other."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from latent_atlas.models.config import VAEConfig
from latent_atlas.models.training.events import TrainEvent
from latent_atlas.models.training.run_spec import DataSpec, ModelSpec, RunSpec

REFERENCE_CONFIG = VAEConfig(image_shape=(1, 28, 28), arch="mlp", hidden=400, latent_dim=20,
                             likelihood="bernoulli", beta=1.0)


def reference_spec(out: str | Path, epochs: int, *, seed: int = 0, limit: int | None = None, device="cpu",
                   overwrite: bool = False) -> RunSpec:
    return RunSpec(family="vae", data=DataSpec("fashion-mnist", limit=limit), model=ModelSpec(config=REFERENCE_CONFIG),
                   epochs=epochs, batch_size=128, lr=1e-3, seed=seed, event_interval=1.0, device=str(device),
                   out=out, overwrite=overwrite)


def train_reference_vae(out: str | Path, epochs: int, *, seed: int = 0, limit: int | None = None,
                        device="cpu", on_event: Callable[[TrainEvent], None] | None = None,
                        overwrite: bool = False) -> Path:
    """Trains the reference on the Fashion-MNIST train split and saves it to `out`; returns `out`. An
    existing `out` is refused unless `overwrite` (run_spec.py's output rule)."""
    run = reference_spec(out, epochs, seed=seed, limit=limit, device=device, overwrite=overwrite).build()
    for event in run.trainer.run():
        if on_event is not None:
            on_event(event)
    return Path(out)
