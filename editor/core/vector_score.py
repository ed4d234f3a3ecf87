"""Qt-free: the Attributes tab's "Score" of a vector on the opened model's own map data.

The same measure as `latent-atlas directions` (models/quality/direction_score.py): latents whose images lack
the target are walked along the vector's unit direction by the distance between the target's group means,
decoded, and read. The reader is the shipped Fashion-MNIST classifier for 28x28 Fashion-MNIST models, else
logistic regressions fitted on the map's own labelled images (the shapes factors, a folder's classes).
The map data also fitted the vectors, so this is a check on seen images, not a held-out one: the command
line's table in docs/quality.md is the held-out measure.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from latent_atlas.models.errors import ConfigError
from latent_atlas.models.latent import directions as dirs
from latent_atlas.models.quality import direction_score as ds_

WALKED = 200          # latents walked per score: about a second of decodes on a CPU
READER_FIT = 2000     # labelled map images a fitted reader learns from
ACCURACY_IMAGES = 500


@dataclass(frozen=True)
class VectorScore:
    vector: str
    target: str
    step: float
    score: ds_.DirectionScore
    others: tuple[str, ...]
    reader: str

    def text(self) -> str:
        s = self.score
        others = "the other classes" if self.others == ("class",) else ", ".join(self.others) or "none trusted"
        return (f"{self.vector} → {self.target}: hit rate {s.hit_rate:.0%} (before {s.hit_rate_before:.0%}) · "
                f"others changed {s.others_changed:.0%} ({others}) · off data {s.off_data:.0%} "
                f"(before {s.off_data_before:.0%}) · {s.n} map images walked by {self.step:.2f}")


def _uses_classifier(loaded) -> bool:
    return ds_.reads_with_classifier(loaded.label_names, loaded.info.image_shape)


def reader_reason(loaded) -> str:
    """'' when this model's vectors can be scored, else why not (in words)."""
    if loaded is None:
        return "no model is open"
    if _uses_classifier(loaded):
        from latent_atlas.models.quality.classifier import CLASSIFIER_PATH
        return "" if CLASSIFIER_PATH.is_file() else f"the Fashion-MNIST classifier {CLASSIFIER_PATH} is missing"
    has_labels = loaded.labels is not None and len(loaded.label_names) > 1
    if not has_labels and loaded.attributes is None:
        return (f"scoring needs a reader of the images: {loaded.name}'s map data has no labels or attributes "
                "to learn one from, and no classifier is shipped for it")
    return ""


def targets(loaded) -> list[str]:
    """The names a score can aim at: the data's classes, then its attributes."""
    if reader_reason(loaded):
        return []
    classes = list(loaded.label_names) if loaded.labels is not None or _uses_classifier(loaded) else []
    return classes + (list(loaded.attribute_names) if loaded.attributes is not None else [])


def _chw(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2))      # (N, H, W, C) -> (N, C, H, W)


def make_reader(loaded, seed: int = 0) -> ds_.Reader:
    if _uses_classifier(loaded):
        from latent_atlas.models.quality.classifier import load_classifier
        return ds_.classifier_reader(load_classifier(), loaded.label_names)
    pick = np.random.default_rng(seed).permutation(len(loaded.images))[:READER_FIT]
    labels = None if loaded.labels is None else np.asarray(loaded.labels)[pick]
    attributes = None if loaded.attributes is None else np.asarray(loaded.attributes)[pick]
    return ds_.fitted_reader(_chw(loaded.images[pick]), labels, loaded.label_names, attributes,
                             loaded.attribute_names, seed)


def _target_mask(loaded, model, reader, target: str) -> np.ndarray:
    """(N,) bool over the map latents: which have the target, from the data's labels where it has them,
    else as the reader reads their decodes (a GAN's map shows prior samples, which carry no labels)."""
    known = ds_.target_mask(loaded, target)
    if known is not None:
        return known
    cond = loaded.conditions if model.cond_dim else None
    return reader.has(ds_.decode_all(model, loaded.latents, cond), target)


def score_vector(loaded, name: str, vector: np.ndarray, target: str, walked: int = WALKED,
                 seed: int = 0, model=None) -> VectorScore:
    """Runs on a worker: fits the reader (or loads the classifier), decodes, reads; `model` is that
    thread's own copy (None: a copy of the loaded module, outside the editor). ConfigError in words
    when the target is unknown or no map latent lacks it."""
    reason = reader_reason(loaded)
    if reason:
        raise ConfigError(reason)
    # this thread's own module, nothing nn.Module is shared: the editor's decode worker made `model`
    model = copy.deepcopy(loaded.model).eval() if model is None else model
    reader = make_reader(loaded, seed)
    reader.target(target)
    mask = _target_mask(loaded, model, reader, target)
    if mask.all() or not mask.any():
        raise ConfigError(f"every map image {'has' if mask.all() else 'lacks'} {target}: nothing to compare")
    step = dirs.mean_difference(loaded.latents, mask).score
    rng = np.random.default_rng(seed)
    start = rng.permutation(np.flatnonzero(~mask))[:walked]
    cond = np.asarray(loaded.conditions)[start] if model.cond_dim else None
    others = None
    if loaded.labels is not None or loaded.attributes is not None:
        check = rng.permutation(len(loaded.images))[:ACCURACY_IMAGES]
        labels = None if loaded.labels is None else np.asarray(loaded.labels)[check]
        attributes = None if loaded.attributes is None else np.asarray(loaded.attributes)[check]
        accuracy = ds_.reader_accuracy(reader, torch.from_numpy(_chw(loaded.images[check])), labels, attributes,
                                       loaded.attribute_names)
        others = {k for k, acc in accuracy.items() if acc >= ds_.TRUSTED_ACCURACY} - {target}
    index, threshold = ds_.off_data_index(loaded.latents)
    with torch.inference_mode():
        s = ds_.score_direction(model, vector, loaded.latents[start], cond, reader, target, step, index,
                                threshold, others)
    shown = tuple(sorted(others)) if others is not None else ("class",) + tuple(reader.attribute_names)
    return VectorScore(name, target, step, s, shown, reader.description)


@dataclass(frozen=True, eq=False)
class ScoreJob:
    """One "Score" request for a job thread (editor/workers/job_channel.py): `score_vector` of these."""
    loaded: object                 # the LoadedModel the vector was made on
    name: str                      # the vector's name
    vector: np.ndarray             # (D,) a copy: the panel may change its own
    target: str
    walked: int = WALKED
    model: object = None           # the job's own copy of the module, made by the decode worker

    def __call__(self, progress, should_stop) -> VectorScore:
        return score_vector(self.loaded, self.name, self.vector, self.target, self.walked, model=self.model)


def guess_target(name: str, names: list[str]) -> str | None:
    """The target a vector's name starts with ("Trouser (classifier normal)" -> "Trouser"), longest first."""
    for t in sorted(names, key=len, reverse=True):
        if name == t or name.startswith((t + " ", t + "(")):
            return t
    return None
