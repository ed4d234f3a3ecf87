"""Every quality number for one model: FD (Fashion-MNIST classifier) beside its train-vs-test floor,
KID, precision / recall (k=3), and per family the CVAE's conditional accuracy or the VAE's attribute-
arithmetic accuracy. The real side (classifier, test features, floor) is built once per run in a
`QualityContext`, so a model and its reference are measured against the same numbers."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latent_atlas.models.data import load_dataset
from latent_atlas.models.errors import ConfigError
from latent_atlas.models.quality.classifier import CLASSIFIER_PATH, IMAGE_SHAPE, load_classifier
from latent_atlas.models.quality.features import classify, features
from latent_atlas.models.quality.metrics import frechet_distance, kernel_distance, precision_recall

FD_NAME = "FD (Fashion-MNIST classifier)"
# source -> target class pairs for attribute arithmetic: neighbouring garments, so an edit must change shape
ARITHMETIC_PAIRS = ((0, 3), (2, 4), (5, 7), (7, 9), (9, 5))   # T-shirt->Dress, Pullover->Coat, Sandal->...


@dataclass(frozen=True)
class QualityContext:
    classifier: torch.nn.Module
    test_images: torch.Tensor          # (N, 1, 28, 28) uint8, the first `samples` test images
    test_labels: torch.Tensor          # (N,) int64
    test_features: np.ndarray          # (N, 128)
    floor_fd: float                    # FD between N train and the N test images: the best a model can expect
    real_accuracy: float               # the classifier's accuracy on these test images: what samples aim for
    label_names: tuple[str, ...]
    source: str


def load_quality_context(samples: int = 10_000, classifier_path: str | Path = CLASSIFIER_PATH) -> QualityContext:
    if samples < 10:
        raise ConfigError(f"--samples must be at least 10, got {samples}")
    classifier = load_classifier(classifier_path)
    test = load_dataset("fashion-mnist", split="test", limit=samples)
    train = load_dataset("fashion-mnist", split="train", limit=samples)
    test_images = torch.from_numpy(test.images)
    test_features = features(classifier, test_images)
    floor = frechet_distance(features(classifier, torch.from_numpy(train.images)), test_features)
    test_labels = torch.from_numpy(test.labels).long()
    real_accuracy = (classify(classifier, test_images) == test_labels).float().mean().item()
    return QualityContext(classifier, test_images, test_labels, test_features, floor, real_accuracy,
                          tuple(str(n) for n in test.label_names), f"{test.source}: {len(test)} test, "
                          f"{len(train)} train images")


@torch.inference_mode()
def _decode_batches(model, z: torch.Tensor, c: torch.Tensor | None, batch_size: int = 500) -> torch.Tensor:
    out = []
    for i in range(0, len(z), batch_size):
        cb = None if c is None else c[i:i + batch_size].to(model.device)
        out.append(model.decode(z[i:i + batch_size].to(model.device), cb).float().cpu())
    return torch.cat(out)                                        # (N, 1, 28, 28) in [0, 1]


def _class_conditions(n: int, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Equal numbers of each class (n // n_classes, the remainder to the first classes)."""
    labels = torch.arange(n) % n_classes
    return labels, torch.nn.functional.one_hot(labels, n_classes).float()


def sample_quality(model, ctx: QualityContext, *, seed: int = 0, name: str = "model") -> dict[str, float]:
    """The quality numbers for `model` (any family), drawing as many samples as ctx has test images."""
    if tuple(model.image_shape) != IMAGE_SHAPE:
        raise ConfigError(f"{name}: the quality metrics need (1, 28, 28) Fashion-MNIST images, "
                          f"the model makes {tuple(model.image_shape)}")
    model.eval()
    n = len(ctx.test_images)
    g = torch.Generator().manual_seed(seed)
    z = model.prior_sample(n, generator=g).cpu()
    labels, cond = (None, None)
    if model.cond_dim:
        if model.cond_dim != len(ctx.label_names):
            raise ConfigError(f"{name}: conditioned on {model.cond_dim} values, not the "
                              f"{len(ctx.label_names)} Fashion-MNIST classes")
        labels, cond = _class_conditions(n, model.cond_dim)
    fake = _decode_batches(model, z, cond)
    fake_features = features(ctx.classifier, fake)
    kid, kid_std = kernel_distance(ctx.test_features, fake_features, subset_size=min(1000, n),
                                   n_subsets=50, seed=seed)
    precision, recall = precision_recall(ctx.test_features, fake_features, k=3)
    report = {FD_NAME: frechet_distance(ctx.test_features, fake_features), "FD train-vs-test floor": ctx.floor_fd,
              "KID": kid, "KID std (50 subsets)": kid_std, "precision (k=3)": precision, "recall (k=3)": recall}
    if labels is not None:
        hits = classify(ctx.classifier, fake) == labels
        report["conditional accuracy"] = hits.float().mean().item()
        per_class = [hits[labels == k].float().mean().item() for k in range(model.cond_dim)]
        worst = int(np.argmin(per_class))
        report["weakest class"] = f"{ctx.label_names[worst]} {per_class[worst]:.3f}"
        report["reconstruction cond. accuracy"] = reconstruction_accuracy(model, ctx)
    elif model.can_encode:
        report["attribute arithmetic accuracy"] = attribute_arithmetic_accuracy(model, ctx)
    return report


@torch.inference_mode()
def reconstruction_accuracy(model, ctx: QualityContext) -> float:
    """The share of the test images, encoded and decoded with their own class, that the classifier assigns to
    it: the ceiling for conditional accuracy that better sampling alone (a prior closer to the aggregate
    posterior, a lower temperature) cannot pass, since samples are no sharper than reconstructions."""
    x = ctx.test_images.float() / 255.0
    cond = torch.nn.functional.one_hot(ctx.test_labels, model.cond_dim).float()
    recon = []
    for i in range(0, len(x), 500):
        c = cond[i:i + 500].to(model.device)
        mu, _ = model.encode(x[i:i + 500].to(model.device), c)
        recon.append(model.decode(mu, c).float().cpu())
    return (classify(ctx.classifier, torch.cat(recon)) == ctx.test_labels).float().mean().item()


@torch.inference_mode()
def attribute_arithmetic_accuracy(model, ctx: QualityContext, pairs=ARITHMETIC_PAIRS) -> float:
    """Mean over class pairs of the share of edits z + (mean z[target] - mean z[source]), applied to the
    test images of the source class, that the classifier assigns to the target class. z: posterior means."""
    x = ctx.test_images.float() / 255.0
    mu = torch.cat([model.encode(x[i:i + 500].to(model.device))[0].cpu() for i in range(0, len(x), 500)])
    shares = []
    for source, target in pairs:
        src, tgt = ctx.test_labels == source, ctx.test_labels == target
        if not src.any() or not tgt.any():
            continue
        q = mu[tgt].mean(0) - mu[src].mean(0)                    # (D,) the class-change vector
        edited = _decode_batches(model, mu[src] + q, None)
        shares.append((classify(ctx.classifier, edited) == target).float().mean().item())
    return float(np.mean(shares)) if shares else float("nan")


def full_report(path, ctx: QualityContext | None, *, dataset: str | None = None, k: int = 64,
                limit: int | None = 2000, seed: int = 0) -> dict:
    """evaluate_checkpoint's density numbers, plus the quality numbers when ctx is given."""
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
    from latent_atlas.models.quality.evaluation import evaluate_checkpoint

    report = evaluate_checkpoint(path, dataset=dataset, k=k, limit=limit, seed=seed)
    if ctx is not None:
        report.update(sample_quality(load_checkpoint(path).model, ctx, seed=seed, name=str(path)))
    return report
