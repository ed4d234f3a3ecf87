"""Maps between a nonlinear 2-D embedding (t-SNE, UMAP) and the latents it was fitted on.

`TriangulationInverse`: map point -> latent. Inside the convex hull of the embedding, barycentric
interpolation of the latents at the corners of the Delaunay triangle holding the point; outside it,
inverse-distance weighting of the k nearest embedding points. Everything is built once; a single query
costs a few tens of microseconds for 60,000 points (see bench/bench_projection.py).

`NeighbourEmbedding`: latent -> map point for latents the embedding was not fitted on, as the
inverse-distance weighted average of the embedding positions of the k nearest fitted latents.
"""
from __future__ import annotations

import numpy as np

_SNAP = 1e-9    # barycentric weights this near 0 or 1 are rounded: a vertex returns its latent exactly


def _idw(dist: np.ndarray, idx: np.ndarray, values: np.ndarray, power: float,
         exact_within: float = 0.0) -> np.ndarray:
    """Inverse-distance weighted average of values[idx] per row; a nearest distance <= exact_within
    returns that neighbour's value exactly."""
    dist, idx = dist.reshape(len(dist), -1), idx.reshape(len(idx), -1)          # (M, k)
    exact = dist[:, 0] <= exact_within
    w = 1.0 / np.maximum(dist, 1e-12) ** power           # floor: (1e-300)**2 would underflow to 0
    w /= w.sum(1, keepdims=True)
    out = np.einsum("mk,mkd->md", w, values[idx].astype(np.float64))
    out[exact] = values[idx[exact, 0]]
    return out


class TriangulationInverse:
    """Inverse of a 2-D embedding: (M, 2) map points -> (M, D) latents.

    The result is continuous inside the hull and equals a data latent at that latent's own map point.
    It jumps a little when a point crosses the hull boundary, where interpolation switches to weighting.
    Duplicate map points are merged by Qhull; the latent of one of them is returned there.
    """

    def __init__(self, embedding: np.ndarray, latents: np.ndarray, k: int = 8, power: float = 2.0):
        self._points = np.asarray(embedding, dtype=np.float64)                  # (N, 2)
        self._latents = np.asarray(latents, dtype=np.float32)                   # (N, D)
        self._k = min(k, len(self._points))
        self._power = power
        from scipy.spatial import Delaunay, QhullError, cKDTree  # here: the model loader imports this module

        self._tree = cKDTree(self._points)
        try:
            self._tri = Delaunay(self._points)
            _ = self._tri.transform        # computed lazily by scipy: pay for it here, not on the first click
        except (QhullError, ValueError):   # all points on a line: no triangles, weighting everywhere
            self._tri = None

    def __call__(self, P: np.ndarray) -> np.ndarray:
        P = np.asarray(P, dtype=np.float64).reshape(-1, 2)
        out = np.empty((len(P), self._latents.shape[1]), dtype=np.float64)
        simplex = self._tri.find_simplex(P) if self._tri is not None else np.full(len(P), -1)
        inside = simplex >= 0
        if inside.any():
            out[inside] = self._barycentric(P[inside], simplex[inside])
        if (~inside).any():
            dist, idx = self._tree.query(P[~inside], k=self._k)
            out[~inside] = _idw(dist, idx, self._latents, self._power)
        return out.astype(np.float32)

    def _barycentric(self, P: np.ndarray, simplex: np.ndarray) -> np.ndarray:
        T = self._tri.transform[simplex]                                        # (m, 3, 2)
        b = np.einsum("mij,mj->mi", T[:, :2], P - T[:, 2])                       # (m, 2)
        bary = np.concatenate([b, 1.0 - b.sum(1, keepdims=True)], axis=1)       # (m, 3)
        bary[np.abs(bary) < _SNAP] = 0.0
        bary[np.abs(bary - 1.0) < _SNAP] = 1.0
        corners = self._latents[self._tri.simplices[simplex]].astype(np.float64)   # (m, 3, D)
        return np.einsum("mk,mkd->md", bary, corners)


class NeighbourEmbedding:
    """Places latents on a fitted 2-D map: IDW average of the map positions of the k nearest fitted latents.

    Only approximate for new latents (t-SNE and UMAP have no exact out-of-sample map); a fitted latent is
    placed exactly at its own map point.
    """

    def __init__(self, latents: np.ndarray, embedding: np.ndarray, k: int = 8, power: float = 2.0):
        self._embedding = np.asarray(embedding, dtype=np.float64)               # (N, 2)
        self._k = min(k, len(self._embedding))
        self._power = power
        latents = np.asarray(latents, dtype=np.float32)
        from sklearn.neighbors import NearestNeighbors  # here: importing scikit-learn takes a second

        self._nn = NearestNeighbors(n_neighbors=self._k).fit(latents)
        # sklearn's brute-force distances (chosen for D > 15) use |x|^2 - 2xy + |y|^2, which leaves ~1e-8
        # relative noise instead of 0 for a fitted latent; anything that close is that latent
        self._exact_within = 1e-6 * float(np.sqrt(np.mean(np.sum(latents.astype(np.float64) ** 2, 1))))

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        dist, idx = self._nn.kneighbors(np.asarray(Z, dtype=np.float32))
        return _idw(dist, idx, self._embedding, self._power, self._exact_within).astype(np.float32)
