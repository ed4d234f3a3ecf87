"""One run that compares edit directions for an attribute on a checkpoint: mean difference, classifier normal,
the PCA and SeFa directions nearest to the mean difference, and a random control, scored on the same
held-out images by the same reader (direction_score.py).

Latents to fit on: a VAE's posterior means of the training split (minus any image also in the test split);
a GAN's prior samples, labelled by the reader from their decodes (InterFaceGAN's recipe: a GAN cannot encode).
Latents to walk: the posterior means of the test images without the attribute (a GAN: other prior samples
the reader sees without it). A CVAE decodes each under its own image's condition.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch

from latent_atlas.models.errors import ConfigError
from latent_atlas.models.latent import directions as dirs
from latent_atlas.models.quality import direction_score as ds_

METHODS = ("mean", "classifier", "pca", "sefa", "random")
PRIOR_SEED_OFFSET = 7_919     # the GAN's walked prior samples come from another stream than its fitted ones


@dataclass(frozen=True)
class Row:
    method: str
    direction: dirs.Direction | None
    cosine_to_mean: float | None          # |cos| with the mean difference
    score: ds_.DirectionScore | None
    problem: str = ""                     # why this method gave no direction


@dataclass(frozen=True)
class Comparison:
    model: str
    attribute: str
    fitted_on: str
    walked: str
    step: float
    reader: str
    reader_accuracy: dict[str, float]     # per read-out ("class", attribute names), on the real test images
    others: tuple[str, ...]               # the read-outs counted in "others changed"
    threshold: float
    rows: list[Row] = field(default_factory=list)


def _digest(images: np.ndarray) -> list[bytes]:
    return [hashlib.blake2b(im.tobytes(), digest_size=16).digest() for im in images]


def _reader(spec: str, model, train) -> ds_.Reader:
    if ds_.reads_with_classifier(train.label_names, model.image_shape):
        from latent_atlas.models.quality.classifier import load_classifier
        return ds_.classifier_reader(load_classifier(), train.label_names)
    if train.labels is None and train.attributes is None:
        raise ConfigError(f"{spec}: the data has neither labels nor attributes, so no attribute can be read")
    return ds_.fitted_reader(train.images, train.labels, train.label_names, train.attributes,
                             train.attribute_names)


def _load(path, dataset: str | None, fit: int, limit: int):
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.data.recorded_source import RecordedSourceRefused, recorded_dataset

    ckpt = load_checkpoint(path)
    try:
        spec = dataset or recorded_dataset(ckpt.dataset or {}, path)
    except RecordedSourceRefused as e:
        raise RecordedSourceRefused(f"{e}; pass --dataset to say which data to use") from None
    c, h, _ = ckpt.model.image_shape
    test = load_dataset(spec, split="test", image_size=h, channels=c, limit=limit)
    train = load_dataset(spec, split="train", image_size=h, channels=c, limit=fit + limit)
    seen = set(_digest(test.images))       # a subset serving both splits must not be fitted and walked
    keep = np.array([d not in seen for d in _digest(train.images)], bool)
    train = train.subset(np.nonzero(keep)[0][:fit])
    if len(train) < 8:
        raise ConfigError(f"{spec}: only {len(train)} training images not also in the test split; need 8")
    return ckpt, spec, train, test


def compare_directions(path, attribute: str, *, methods=METHODS, step: float | None = None, limit: int = 1000,
                       fit: int = 2000, seed: int = 0, dataset: str | None = None,
                       classifier: str = "logistic") -> Comparison:
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigError(f"unknown method {', '.join(unknown) or '(none)'}; choose from {', '.join(METHODS)}")
    if limit < 2 or fit < 8:
        raise ConfigError(f"--limit must be at least 2 and --fit at least 8 (got {limit} and {fit})")
    if step is not None and not (np.isfinite(step) and step > 0):
        raise ConfigError(f"--step must be a positive number, got {step}")
    ckpt, spec, train, test = _load(path, dataset, fit, limit)
    model = ckpt.model.eval()
    reader = _reader(spec, model, train)
    reader.target(attribute)                           # unknown names fail here, before any encoding
    condition = (ckpt.dataset or {}).get("condition") or "labels"
    walk_c = None
    if model.can_encode:
        fit_c = train.conditions(condition)[0] if model.cond_dim else None
        test_c = test.conditions(condition)[0] if model.cond_dim else None
        z_fit, z_test = ds_.encode_all(model, train.images, fit_c), ds_.encode_all(model, test.images, test_c)
        fit_mask, test_mask = ds_.target_mask(train, attribute), ds_.target_mask(test, attribute)
        if fit_mask is None or test_mask is None:
            raise ConfigError(f"{spec} has no label or attribute {attribute!r}")
        walk = ~test_mask
        walk_c = None if test_c is None else test_c[walk]
        fitted_on = f"posterior means of {len(train)} {spec} training images"
        walked = f"{int(walk.sum())} of {len(test)} test images without {attribute}"
    else:
        g = torch.Generator().manual_seed(seed)
        z_fit = model.prior_sample(fit, generator=g).cpu().numpy()
        g = torch.Generator().manual_seed(seed + PRIOR_SEED_OFFSET)
        z_test = model.prior_sample(limit, generator=g).cpu().numpy()
        fit_mask = reader.has(ds_.decode_all(model, z_fit, None), attribute)
        walk = ~reader.has(ds_.decode_all(model, z_test, None), attribute)
        fitted_on = f"{fit} prior samples, {int(fit_mask.sum())} read as {attribute}"
        walked = f"{int(walk.sum())} of {limit} other prior samples read without {attribute}"
    if not walk.any():
        raise ConfigError(f"every held-out image has {attribute}: nothing to walk")
    mean = dirs.mean_difference(z_fit, fit_mask)
    step = mean.score if step is None else float(step)
    index, threshold = ds_.off_data_index(z_fit)
    accuracy = ds_.reader_accuracy(reader, test.images, test.labels, test.attributes, test.attribute_names)
    others = {name for name, acc in accuracy.items() if acc >= ds_.TRUSTED_ACCURACY} - {attribute}
    found = _directions(model, methods, mean, z_fit, fit_mask, seed, classifier)
    rows = []
    for method, direction, problem in found:
        score = None if direction is None else ds_.score_direction(
            model, direction.vector, z_test[walk], walk_c, reader, attribute, step, index, threshold, others)
        cos = None if direction is None else abs(float(direction.vector @ mean.vector))
        rows.append(Row(method, direction, cos, score, problem))
    return Comparison(f"{ckpt.kind} {path}", attribute, fitted_on, walked, step, reader.description, accuracy,
                      tuple(sorted(others)), threshold, rows)


def _directions(model, methods, mean, z_fit, fit_mask, seed, classifier):
    """(method, Direction or None, problem) for each method asked for, in the order asked."""
    out = []
    for method in methods:
        try:
            if method == "mean":
                d = mean
            elif method == "classifier":
                d = dirs.classifier_normal(z_fit, fit_mask, kind=classifier, seed=seed)
            elif method == "pca":
                d, _ = dirs.nearest(dirs.pca_directions(z_fit), mean.vector)
            elif method == "sefa":
                d, _ = dirs.nearest(dirs.model_sefa_directions(model), mean.vector)
            else:
                d = dirs.random_direction(z_fit.shape[1], seed)
            out.append((method, d, ""))
        except dirs.DirectionError as e:
            out.append((method, None, str(e)))
    return out
