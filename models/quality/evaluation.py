"""Density estimation on held-out data: test ELBO, importance-weighted log-likelihood, reconstruction
errors (VAE family), and the discriminator's realness D/(1-D) for a GAN."""
from __future__ import annotations

import torch

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.data import load_dataset
from latent_atlas.models.data.recorded_source import RecordedSourceRefused, recorded_dataset


@torch.inference_mode()
def evaluate_checkpoint(path, *, dataset: str | None = None, k: int = 64, limit: int | None = 2000,
                        seed: int = 0, batch_size: int = 250) -> dict:
    ckpt = load_checkpoint(path)
    model = ckpt.model
    ds = ckpt.dataset or {}
    try:
        spec = dataset or recorded_dataset(ds, path)
    except RecordedSourceRefused as e:
        raise RecordedSourceRefused(f"{e}; pass --dataset to say which data to evaluate on") from None
    c, h, _ = model.image_shape
    data = load_dataset(spec, split="test", image_size=h, channels=c, limit=limit)
    torch.manual_seed(seed)
    x_all = torch.from_numpy(data.images).float() / 255.0
    cond_all = None
    if model.cond_dim:
        cond, _ = data.conditions(ds.get("condition") or "labels")
        cond_all = torch.from_numpy(cond).float()
    report = {"file": str(path), "dataset": f"{data.name} test ({len(data)} images)"}
    sums: dict[str, float] = {}
    for start in range(0, len(x_all), batch_size):
        x = x_all[start:start + batch_size]
        cb = None if cond_all is None else cond_all[start:start + batch_size]
        for key, value in _batch_terms(model, x, cb, k).items():
            sums[key] = sums.get(key, 0.0) + float(value.sum())
    report.update({key: value / len(x_all) for key, value in sums.items()})
    if "iw_log_likelihood" in report:
        report["iw_minus_elbo"] = report["iw_log_likelihood"] - report["elbo"]
    return report


def _batch_terms(model, x, c, k) -> dict[str, torch.Tensor]:
    if not model.can_encode:
        fake = model.sample(len(x))
        return {"realness_test (D/(1-D))": model.realness(x), "realness_samples": model.realness(fake)}
    mu, _ = model.encode(x, c)
    x_hat = model.decode(mu, c)
    bce = torch.nn.functional.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x, reduction="none")
    return {"elbo": model.elbo(x, c), "iw_log_likelihood": model.iw_log_likelihood(x, c, k=k),
            "recon_bce": bce.flatten(1).sum(1), "recon_mse": (x_hat - x).pow(2).flatten(1).sum(1)}
