"""New latents on a fitted t-SNE map, without refitting: your own image, a prior sample, an edited latent.

openTSNE's `TSNEEmbedding.transform` places new points by optimising only them against the fixed map: their
affinities to the k = 3 * perplexity nearest fitted latents (perplexity 5, point-wise normalised), a start at
the median map position of those neighbours, then 250 iterations of gradient descent (learning rate 0.1,
momentum 0.8, exaggeration 1.5, gradients clipped to norm 0.25, openTSNE's gains). `TSNEPlacement` runs the
same optimisation with the exact repulsion of every map point instead of openTSNE's Barnes-Hut or FFT
estimate: openTSNE's transform of one point costs 0.4-0.9 s on a 10,000-point map (its index and its grid are
built for many points), this costs ~20 ms, cheap enough for the GUI thread. It agrees with openTSNE's
Barnes-Hut transform to ~0.01 map units (tests/test_tsne_placement.py). A latent the map was fitted on is
placed at its own map point exactly.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

PERPLEXITY = 5.0           # openTSNE transform's default: a new point follows its few nearest neighbours
N_ITER = 250
LEARNING_RATE = 0.1
MOMENTUM = 0.8
EXAGGERATION = 1.5
MAX_GRAD_NORM = 0.25       # openTSNE: keeps a point started on top of map points from shooting off
MIN_GAIN = 0.01
CHUNK = 64                 # new points optimised together: (64, N, 2) float64 is 10 MB for N = 10,000


def opentsne_available() -> bool:
    try:
        from openTSNE.affinity import joint_probabilities_nn  # noqa: F401
    except ImportError:
        return False
    return True


class TSNEPlacement:
    """(M, D) latents -> (M, 2) map points on a fitted t-SNE map.

    latents (N, D), embedding (N, 2): every point of the map; fitted: indices of the points t-SNE itself
    optimised (the reference; the others were placed afterwards)."""

    def __init__(self, latents: np.ndarray, embedding: np.ndarray, fitted: np.ndarray | None = None):
        latents = np.asarray(latents, np.float64)
        fitted = np.arange(len(latents)) if fitted is None else np.asarray(fitted, np.int64)
        self._embedding = np.asarray(embedding, np.float64)                 # (N, 2)
        self._all = cKDTree(latents)
        self._reference = self._embedding[fitted]                           # (R, 2)
        self._ref_tree = self._all if len(fitted) == len(latents) else cKDTree(latents[fitted])
        self._k = min(len(fitted), int(3 * PERPLEXITY))
        self._perplexity = min(PERPLEXITY, (self._k - 1) / 3)
        # a fitted latent re-encoded (other batch, other thread count) differs by float noise: that latent
        self._exact_within = 1e-6 * float(np.sqrt(np.mean(np.sum(latents ** 2, 1))))

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        Z = np.asarray(Z, np.float64).reshape(len(Z), -1)
        out = np.empty((len(Z), 2), np.float64)
        dist, nearest = self._all.query(Z, k=1)
        exact = dist <= self._exact_within
        out[exact] = self._embedding[nearest[exact]]
        new = np.flatnonzero(~exact)
        for start in range(0, len(new), CHUNK):
            rows = new[start:start + CHUNK]
            out[rows] = self._optimise(Z[rows])
        return out.astype(np.float32)

    def _optimise(self, X: np.ndarray) -> np.ndarray:
        from openTSNE.affinity import joint_probabilities_nn

        ref = self._reference
        dist, nbr = self._ref_tree.query(X, k=self._k)
        dist, nbr = dist.reshape(len(X), -1), nbr.reshape(len(X), -1)       # (M, k)
        P = joint_probabilities_nn(nbr, dist, [self._perplexity], symmetrize=False, normalization="point-wise",
                                   n_reference_samples=len(ref), n_jobs=1)
        P = np.asarray(P.todense()) * EXAGGERATION                          # (M, R), rows sum to 1.5
        Y = np.median(ref[nbr], axis=1)                                     # (M, 2) openTSNE's "median" start
        rx, ry = ref[:, 0], ref[:, 1]                                       # x and y apart: (M, R) arrays, not
        update, gains = np.zeros_like(Y), np.ones_like(Y)                   # (M, R, 2), halve the time
        for _ in range(N_ITER):
            dx, dy = Y[:, :1] - rx, Y[:, 1:] - ry                           # (M, R)
            w = 1.0 / (1.0 + dx * dx + dy * dy)                             # Student-t kernel, one degree
            rep = w * w / w.sum(1, keepdims=True) - P * w                   # repulsion minus attraction
            grad = -np.stack([(rep * dx).sum(1), (rep * dy).sum(1)], axis=1)
            norm = np.linalg.norm(grad, axis=1, keepdims=True)
            grad *= np.minimum(1.0, MAX_GRAD_NORM / (norm + 1e-6))
            flipped = np.sign(update) != np.sign(grad)
            gains = np.where(flipped, gains + 0.2, gains * 0.8 + MIN_GAIN)
            update = MOMENTUM * update - LEARNING_RATE * gains * grad
            Y = Y + update
        return Y
