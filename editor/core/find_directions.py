"""Qt-free: the "Find directions" methods of the Attributes tab, fitted on a loaded model's latents."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent_atlas.models.latent import directions as dirs

METHODS = ["PCA of data latents", "PCA of prior latents", "SeFa", "Mean difference", "Classifier normal"]
SUPERVISED = {"Mean difference", "Classifier normal"}
PRIOR_SAMPLES, COMPONENTS = 4000, 8


def find(loaded, method: str, label: int | None = None, seed: int = 0, model=None) -> list[dirs.Direction]:
    """The directions of one method; runs on a worker (PCA and the classifier fit take seconds). SeFa reads
    `model`, this thread's own copy (the editor's decode worker makes it: ModelCopyRequest), or else the
    loaded model's module (outside the editor). Whether SeFa can run: loaded.info.sefa_reason."""
    if method == "PCA of data latents":
        return dirs.pca_directions(loaded.latents, COMPONENTS)
    if method == "PCA of prior latents":
        z = np.random.default_rng(seed).standard_normal((PRIOR_SAMPLES, loaded.latents.shape[1]))
        return dirs.pca_directions(z.astype(np.float32), COMPONENTS)
    if method == "SeFa":
        return dirs.model_sefa_directions(loaded.model if model is None else model, COMPONENTS)
    if method in SUPERVISED:
        if loaded.labels is None or label is None:
            raise dirs.DirectionError(f"{method} needs labelled data; this model's map has no labels")
        mask = np.asarray(loaded.labels) == label
        name = loaded.label_names[label] if label < len(loaded.label_names) else str(label)
        if method == "Mean difference":
            return [dirs.mean_difference(loaded.latents, mask, f"{name} (mean difference)")]
        return [dirs.classifier_normal(loaded.latents, mask, name=f"{name} (classifier normal)")]
    raise dirs.DirectionError(f"unknown method {method!r}")


@dataclass(frozen=True, eq=False)
class FindJob:
    """One "Find directions" request for a job thread (editor/workers/job_channel.py): `find` of these."""
    loaded: object                 # the LoadedModel the directions are for
    method: str                    # one of METHODS
    label: int | None = None       # the supervised methods' class
    model: object = None           # SeFa's own copy of the module, made by the decode worker

    def __call__(self, progress, should_stop) -> list[dirs.Direction]:
        return find(self.loaded, self.method, self.label, model=self.model)


def as_vector(loaded, d: dirs.Direction, label: int | None = None) -> tuple[np.ndarray, str]:
    """The found unit direction scaled so that weight 1 is a step a user sees, and that step in words.

    Supervised: the distance between the two groups' means along it (for the mean difference that is the
    lecture's attribute vector itself). Unsupervised: one standard deviation of the data latents along it
    (GANSpace's unit). A unit vector at weight 1 would barely move a latent whose spread is several units.
    """
    z = np.asarray(loaded.latents, np.float64)
    if d.method in ("mean", "classifier") and label is not None and loaded.labels is not None:
        mask = np.asarray(loaded.labels) == label
        scale = float((z[mask].mean(0) - z[~mask].mean(0)) @ d.vector)
        unit = f"weight 1 moves by the distance between the group means along it ({scale:.2f})"
    else:
        scale = float((z @ d.vector).std())
        unit = f"weight 1 is one standard deviation of the data latents along it ({scale:.2f})"
    if not np.isfinite(scale) or abs(scale) < 1e-6:
        scale, unit = 1.0, "unit length"
    return (d.vector * np.float32(scale)).astype(np.float32), unit


def describe(d: dirs.Direction) -> str:
    if d.method in ("pca", "sefa"):
        return f"{d.name}: {100 * d.score:.1f}% of the variance"
    if d.method == "classifier":
        return f"{d.name}: held-out accuracy {100 * d.score:.1f}%"
    return f"{d.name}: {d.note} {d.score:.2f}"
