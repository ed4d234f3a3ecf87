"""How good is an edit direction? Walk held-out latents along it by a fixed step, decode, and read the images.

A `Reader` turns images into read-outs: a class (one of K names) and binary attributes. For a direction that
should switch attribute t on, `score_direction` reports
- hit rate: the share of walked images read as having t after the edit (and the share before it);
- others changed: over every other read-out, the mean share of walked images whose reading changed (for a
  class target: the share moved to a third class, neither their own nor the target);
- off data: the share of edited latents farther from every data latent than 99% of the data latents are from
  their nearest neighbour (the editor's off-data test, NearestData in latent_math).
Before and after are both decodes, so a decoder's blur counts on both sides and cancels.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latent_atlas.models.errors import ConfigError
from latent_atlas.models.latent.latent_math import NearestData

OFF_DATA_QUANTILE = 0.99     # as the editor's density label (editor/core/density.py)
TRUSTED_ACCURACY = 0.8       # a read-out counts among "others changed" only if right this often on real images
READER_POOL = 16             # fitted readers see images average-pooled to at most 16 x 16 pixels
BATCH = 500


@dataclass(frozen=True)
class Reader:
    class_names: tuple[str, ...]            # the class read-out ((): none)
    attribute_names: tuple[str, ...]        # binary read-outs
    read: Callable[[torch.Tensor], tuple[np.ndarray | None, np.ndarray | None]]   # images -> (classes, attrs)
    description: str

    def target(self, name: str) -> tuple[str, int]:
        """("class", k) or ("attribute", j) for a name; ConfigError listing the choices otherwise."""
        if name in self.class_names:
            return "class", self.class_names.index(name)
        if name in self.attribute_names:
            return "attribute", self.attribute_names.index(name)
        raise ConfigError(f"unknown attribute {name!r}; this data offers "
                          f"{', '.join(self.class_names + self.attribute_names) or 'nothing to read'}")

    def has(self, images: torch.Tensor, name: str) -> np.ndarray:
        """(N,) bool: which images are read as having the class or attribute `name`."""
        side, k = self.target(name)
        classes, attrs = self.read(images)
        return classes == k if side == "class" else attrs[:, k]


@dataclass(frozen=True)
class DirectionScore:
    hit_rate: float              # share of walked images read as the target after the edit
    hit_rate_before: float       # ... before it (their decodes at the starting latents)
    others_changed: float        # mean over the other read-outs of the share whose reading changed
    off_data: float              # share of edited latents that leave the data
    off_data_before: float       # share of the starting latents that do
    n: int                       # walked images


@torch.inference_mode()
def encode_all(model, images: np.ndarray, cond: np.ndarray | None) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, latent_dim) float32 posterior means, BATCH images at a time."""
    x = torch.from_numpy(images).float() / 255.0
    out = [torch.zeros(0, model.latent_dim)]
    for i in range(0, len(x), BATCH):
        c = None if cond is None else torch.from_numpy(np.asarray(cond[i:i + BATCH], np.float32)).to(model.device)
        out.append(model.encode(x[i:i + BATCH].to(model.device), c)[0].float().cpu())
    return torch.cat(out).numpy()


@torch.inference_mode()
def decode_all(model, z: np.ndarray, c: np.ndarray | None) -> torch.Tensor:
    """(N, C, H, W) float images in [0, 1], decoded BATCH latents at a time on the model's device."""
    out = []
    for i in range(0, len(z), BATCH):
        zb = torch.from_numpy(np.ascontiguousarray(z[i:i + BATCH], np.float32)).to(model.device)
        cb = None if c is None else torch.from_numpy(np.asarray(c[i:i + BATCH], np.float32)).to(model.device)
        out.append(model.decode(zb, cb).float().cpu())
    return torch.cat(out)


def score_direction(model, direction: np.ndarray, start: np.ndarray, condition: np.ndarray | None,
                    reader: Reader, target: str, step: float, data: NearestData, threshold: float,
                    others: set[str] | None = None) -> DirectionScore:
    """Walk `start` (M, D) by step * unit(direction), decode under `condition` (M, C) or None, and read.

    `others`: the read-outs ("class" and attribute names) that count as other attributes; None: all. A
    read-out the reader gets wrong half the time flips at random, and would only add noise.
    """
    u = np.asarray(direction, np.float64)
    u = (u / max(float(np.linalg.norm(u)), 1e-12)).astype(np.float32)
    start = np.asarray(start, np.float32)
    edited = start + np.float32(step) * u
    side, k = reader.target(target)
    cls0, att0 = reader.read(decode_all(model, start, condition))
    cls1, att1 = reader.read(decode_all(model, edited, condition))
    hit0 = cls0 == k if side == "class" else att0[:, k]
    hit1 = cls1 == k if side == "class" else att1[:, k]
    changed = []
    if cls0 is not None and (others is None or "class" in others):
        changed.append(((cls1 != cls0) & (cls1 != k)).mean() if side == "class" else (cls1 != cls0).mean())
    if att0 is not None:
        changed += [(att1[:, j] != att0[:, j]).mean() for j, name in enumerate(reader.attribute_names)
                    if (side == "class" or j != k) and (others is None or name in others)]
    def off(z):
        return float((data.distance(torch.from_numpy(z)).numpy() > threshold).mean())
    return DirectionScore(float(hit1.mean()), float(hit0.mean()),
                          float(np.mean(changed)) if changed else float("nan"), off(edited), off(start), len(start))


def reads_with_classifier(label_names, image_shape) -> bool:
    """28x28 grey Fashion-MNIST models are read by the shipped classifier; any other by a fitted reader."""
    from latent_atlas.models.data.idx import FASHION_NAMES

    return list(label_names) == list(FASHION_NAMES) and tuple(image_shape) == (1, 28, 28)


def target_mask(data, name: str) -> np.ndarray | None:
    """(N,) bool: which items of `data` (anything with labels, label_names, attributes and attribute_names: a
    data set or the editor's loaded model) carry class or attribute `name`; None when the data has no such name."""
    if data.labels is not None and name in data.label_names:
        return np.asarray(data.labels) == list(data.label_names).index(name)
    if data.attributes is not None and name in data.attribute_names:
        return np.asarray(data.attributes)[:, list(data.attribute_names).index(name)] > 0.5
    return None


def classifier_reader(classifier, class_names) -> Reader:
    """The shipped Fashion-MNIST CNN (models/quality/classifier.py) as a class read-out."""
    from latent_atlas.models.quality.features import classify

    def read(images):
        return classify(classifier, images).numpy(), None
    return Reader(tuple(class_names), (), read, "the shipped Fashion-MNIST classifier (CNN)")


def image_features(images) -> np.ndarray:
    """(N, F) features for a fitted reader: the image average-pooled to at most READER_POOL pixels a side,
    plus its mass, centre of mass and second moments (where a shape is, how big, which way it leans)."""
    x = torch.as_tensor(images)
    x = (x.float() / 255.0 if x.dtype == torch.uint8 else x.float()).mean(1, keepdim=True)   # (N, 1, H, W)
    h, w = x.shape[-2:]
    pooled = torch.nn.functional.adaptive_avg_pool2d(x, (min(h, READER_POOL), min(w, READER_POOL))).flatten(1)
    g = x[:, 0]
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    mass = g.sum((1, 2)).clamp_min(1e-6)
    cy = (g.sum(2) * ys).sum(1) / mass
    cx = (g.sum(1) * xs).sum(1) / mass
    dy, dx = ys[None, :, None] - cy[:, None, None], xs[None, None, :] - cx[:, None, None]
    moments = [(g * m).sum((1, 2)) / mass for m in (dy * dy, dx * dx, dy * dx)]
    extra = torch.stack([mass / (h * w), cx, cy, *moments], 1)
    return torch.cat([pooled, extra], 1).double().numpy()


def fitted_reader(images: np.ndarray, labels: np.ndarray | None, class_names, attributes: np.ndarray | None,
                  attribute_names, seed: int = 0) -> Reader:
    """A reader learnt on the fly from labelled real images (N, C, H, W) uint8: one multinomial logistic
    regression for the classes, one per attribute, on image_features. Deterministic (lbfgs, fixed data)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    feats = image_features(images)

    def fit(y):
        if len(np.unique(y)) < 2:
            return None
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000,
                                                                  random_state=seed)).fit(feats, y)
    use_classes = labels is not None and len(class_names) > 0 and (labels >= 0).all()
    class_model = fit(labels) if use_classes else None
    attr_models = [fit(attributes[:, j] > 0.5) for j in range(len(attribute_names))] if attributes is not None \
        else []
    kept = [j for j, m in enumerate(attr_models) if m is not None]

    def read(imgs):
        f = image_features(imgs)
        classes = class_model.predict(f).astype(np.int64) if class_model is not None else None
        attrs = np.stack([attr_models[j].predict(f).astype(bool) for j in kept], 1) if kept else None
        return classes, attrs
    return Reader(tuple(class_names) if class_model is not None else (),
                  tuple(attribute_names[j] for j in kept), read,
                  f"logistic regressions on pooled pixels and moments of {len(images)} real images")


def reader_accuracy(reader: Reader, images, labels: np.ndarray | None, attributes: np.ndarray | None,
                    attribute_names) -> dict[str, float]:
    """Per read-out, the share of real images it reads as their labels say ("class" and each attribute)."""
    classes, attrs = reader.read(images)
    out = {}
    if classes is not None and labels is not None:
        out["class"] = float((classes == labels).mean())
    if attrs is not None and attributes is not None:
        for j, name in enumerate(reader.attribute_names):
            truth = attributes[:, list(attribute_names).index(name)] > 0.5
            out[name] = float((attrs[:, j] == truth).mean())
    return out


def off_data_index(latents: np.ndarray) -> tuple[NearestData, float]:
    """The data's nearest-neighbour index and its 99th-percentile neighbour distance (the off-data line)."""
    index = NearestData(np.ascontiguousarray(latents, np.float32))
    return index, index.threshold(OFF_DATA_QUANTILE)
