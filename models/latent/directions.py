"""Edit directions in latent space, found four ways. Qt-free; numpy in, numpy out.

- Unsupervised: PCA of data (or prior) latents, ranked by the share of variance each explains (GANSpace does
  this; for latents drawn from an isotropic prior every share is about 1/D, so the ranking means nothing).
- Closed form: SeFa (Shen & Zhou, 2021), the top eigenvectors of W^T W for the first layer h = W z + b of the
  decoder: moving z along an eigenvector with eigenvalue s changes h by sqrt(s) per unit step, the most any
  unit direction can.
- Supervised, for a label or attribute: the mean difference (the lecture's attribute vector, mean latent with
  minus mean latent without) and the normal of a linear classifier fitted on latents and labels (InterFaceGAN),
  reported with its accuracy on held-out latents.

Every direction comes back with unit length, so a fixed step moves each the same distance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latent_atlas.models.errors import LatentAtlasError
from latent_atlas.models.latent import latent_math

CLASSIFIERS = ("logistic", "svm")
HELD_OUT = 0.25      # share of the labelled latents kept out of the classifier's fit, to measure its accuracy


class DirectionError(LatentAtlasError):
    """A direction cannot be found: no labels on one side, too few latents, or no linear first layer."""


@dataclass(frozen=True)
class Direction:
    name: str
    method: str              # "mean", "classifier", "pca", "sefa", "random"
    vector: np.ndarray       # (D,) float32, unit length
    score: float             # pca: variance share; sefa: eigenvalue share; classifier: held-out accuracy
    rank: int = 0            # pca / sefa: 0 for the first component
    note: str = ""           # what the score is, in words


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n < 1e-12:
        raise DirectionError("the direction is zero (both groups have the same mean latent)")
    return (v / n).astype(np.float32)


def _orient(vectors: np.ndarray) -> np.ndarray:
    """Eigenvectors have no sign: make each row's largest-magnitude entry positive, so runs agree."""
    picks = np.abs(vectors).argmax(1)
    signs = np.sign(vectors[np.arange(len(vectors)), picks])
    return vectors * np.where(signs == 0, 1.0, signs)[:, None]


def _latents(z) -> np.ndarray:
    z = np.asarray(z.detach().cpu() if isinstance(z, torch.Tensor) else z, np.float64)
    if z.ndim != 2 or len(z) < 2:
        raise DirectionError(f"directions need at least 2 latents as (N, D); got shape {z.shape}")
    if not np.isfinite(z).all():
        raise DirectionError("the latents hold NaN or infinite values")
    return z


def pca_directions(latents, k: int | None = None) -> list[Direction]:
    """The top k principal axes of the latents (N, D), ranked by the share of variance each explains."""
    z = _latents(latents)
    _, s, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
    var = s ** 2
    total = float(var.sum())
    if total <= 0:
        raise DirectionError("the latents do not vary: PCA has no axis")
    vt = _orient(vt)
    k = len(vt) if k is None else min(k, len(vt))
    return [Direction(f"PC{i + 1}", "pca", _unit(vt[i]), float(var[i] / total), i,
                      f"{100 * var[i] / total:.1f}% of the variance") for i in range(k)]


def sefa_directions(weight, k: int | None = None) -> list[Direction]:
    """The top k eigenvectors of W^T W for a first layer W (out, D), ranked by their share of the eigenvalues."""
    w = np.asarray(weight.detach().cpu() if isinstance(weight, torch.Tensor) else weight, np.float64)
    if w.ndim != 2 or not np.isfinite(w).all():
        raise DirectionError(f"SeFa needs a finite weight matrix (out, D); got shape {w.shape}")
    eigval, eigvec = np.linalg.eigh(w.T @ w)               # ascending; W^T W is symmetric PSD
    order = np.argsort(-eigval, kind="stable")
    eigval, eigvec = np.clip(eigval[order], 0, None), _orient(eigvec[:, order].T)
    total = float(eigval.sum())
    if total <= 0:
        raise DirectionError("the first layer's weight is zero: SeFa has no direction")
    k = len(eigval) if k is None else min(k, len(eigval))
    return [Direction(f"SeFa{i + 1}", "sefa", _unit(eigvec[i]), float(eigval[i] / total), i,
                      f"{100 * eigval[i] / total:.1f}% of the eigenvalues") for i in range(k)]


def model_sefa_directions(model, k: int | None = None) -> list[Direction]:
    """SeFa on a model's own first layer; DirectionError, saying why, when it has none that maps z linearly."""
    weight = model.latent_weight()
    if weight is None:
        raise DirectionError(f"SeFa needs a decoder whose first layer is a linear map of z; this {model.kind} "
                             f"({type(model).__name__}) has none that Latent Atlas knows of")
    return sefa_directions(weight, k)


def _groups(latents, mask) -> tuple[np.ndarray, np.ndarray]:
    z = _latents(latents)
    m = np.asarray(mask, bool).reshape(-1)
    if m.shape != (len(z),):
        raise DirectionError(f"{len(z)} latents but {m.size} labels")
    n_with = int(m.sum())
    if n_with == 0 or n_with == len(m):
        side = "with" if n_with == 0 else "without"
        raise DirectionError(f"no latents {side} the attribute ({n_with} of {len(m)}): both groups are needed")
    return z, m


def mean_difference(latents, mask, name: str = "mean difference") -> Direction:
    """The lecture's attribute vector mean(z[mask]) - mean(z[~mask]), as a unit direction; `score` is its
    length before normalising (the distance between the two groups' means)."""
    z, m = _groups(latents, mask)
    v = latent_math.attribute_vector(torch.from_numpy(z), torch.from_numpy(m)).numpy()
    return Direction(name, "mean", _unit(v), float(np.linalg.norm(v)), note="distance between the group means")


def classifier_normal(latents, mask, *, kind: str = "logistic", held_out: float = HELD_OUT, seed: int = 0,
                      name: str = "classifier normal") -> Direction:
    """The normal of a linear boundary between latents with and without the attribute, pointing to "with".

    Fitted on a stratified (1 - held_out) share of the latents, scored on the rest: `score` is that held-out
    accuracy. Balanced class weights, so a rare attribute does not make "never" the best boundary.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.svm import LinearSVC

    if kind not in CLASSIFIERS:
        raise DirectionError(f"unknown classifier {kind!r}; choose from {', '.join(CLASSIFIERS)}")
    z, m = _groups(latents, mask)
    if min(int(m.sum()), int((~m).sum())) < 4:
        raise DirectionError(f"a classifier needs at least 4 latents on each side; got {int(m.sum())} with "
                             f"and {int((~m).sum())} without")
    z_fit, z_test, m_fit, m_test = train_test_split(z, m, test_size=held_out, random_state=seed, stratify=m)
    if kind == "logistic":
        clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    else:
        clf = LinearSVC(C=1.0, class_weight="balanced", max_iter=20000, random_state=seed)
    clf.fit(z_fit, m_fit)
    accuracy = float((clf.predict(z_test) == m_test).mean())
    label = "logistic regression" if kind == "logistic" else "linear SVM"
    return Direction(name, "classifier", _unit(clf.coef_[0]), accuracy,
                     note=f"{label}, held-out accuracy {accuracy:.3f} on {len(m_test)} latents")


def random_direction(dim: int, seed: int = 0) -> Direction:
    """A seeded random unit direction: the negative control every score should put last."""
    v = np.random.default_rng(seed).standard_normal(dim)
    return Direction("random", "random", _unit(v), 0.0, note=f"seed {seed}")


def nearest(directions: list[Direction], reference: np.ndarray) -> tuple[Direction, float]:
    """The direction of the list closest in angle to reference, flipped to point its way, and |cosine|."""
    if not directions:
        raise DirectionError("no directions to choose from")
    ref = _unit(reference)
    cos = np.array([float(d.vector @ ref) for d in directions])
    i = int(np.abs(cos).argmax())
    d = directions[i]
    if cos[i] < 0:
        d = Direction(d.name, d.method, -d.vector, d.score, d.rank, d.note)
    return d, float(abs(cos[i]))
