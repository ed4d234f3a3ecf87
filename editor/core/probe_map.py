"""The training panel's probe map, Qt-free: a fixed set of training images re-encoded as the model learns,
projected to 2-D so the user watches the classes pull apart.

Each update is a fresh PCA of the probe set's posterior means, rotated (and reflected) onto the previous
update by orthogonal Procrustes, so the picture moves only as much as the latents do, never flips or spins
because an eigenvector changed sign or two eigenvalues swapped.
"""
from __future__ import annotations

import numpy as np

PROBE_COUNT = 500


def probe_indices(n_images: int, count: int = PROBE_COUNT, seed: int = 0) -> np.ndarray:
    """Sorted indices of `count` images (all of them if fewer), the same for the whole run."""
    count = min(int(count), int(n_images))
    return np.sort(np.random.default_rng(seed + 777).choice(n_images, size=count, replace=False))


def pca_2d(latents: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, 2): the first two principal components (zeros where the data has fewer directions)."""
    x = np.asarray(latents, np.float64)
    x = x - x.mean(0)
    out = np.zeros((len(x), 2))
    if len(x) < 2 or not np.isfinite(x).all():
        return out
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    k = min(2, vt.shape[0])
    out[:, :k] = x @ vt[:k].T
    return out


def align_to(current: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """`current` (N, 2) rotated or reflected (orthogonal Procrustes) to best match `previous` (N, 2)."""
    if previous is None or previous.shape != current.shape or not np.isfinite(previous).all():
        return current
    u, _, vt = np.linalg.svd(current.T @ previous)
    return current @ (u @ vt)


class ProbeProjector:
    """Keeps the last picture so each new one is aligned to it. One per training run."""

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None

    def project(self, latents: np.ndarray) -> np.ndarray:
        """(N, D) posterior means -> (N, 2) float32 map coordinates."""
        coords = align_to(pca_2d(latents), self.previous)
        self.previous = coords
        return coords.astype(np.float32)
