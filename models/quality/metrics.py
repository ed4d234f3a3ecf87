"""Distances between two sets of feature vectors (rows): Frechet distance between their Gaussians,
kernel inception-style distance (KID), and k-NN precision / recall (Kynkaanniemi et al., 2019).
Pure numpy / scipy / torch; the features can come from any network."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import torch


def gaussian_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) -> mean (D,), covariance (D, D) (unbiased)."""
    feats = np.asarray(feats, dtype=np.float64)
    return feats.mean(0), np.cov(feats, rowvar=False)


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to rows of a and b."""
    mu1, s1 = gaussian_stats(a)
    mu2, s2 = gaussian_stats(b)
    with warnings.catch_warnings():            # dead features make S singular; checked just below instead
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():         # singular product (fewer samples than dimensions): regularise
        offset = np.eye(len(s1)) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        # rounding gives sqrtm tiny imaginary parts; large ones mean the covariances are broken
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3 * max(1.0, np.abs(covmean).max())):
            raise ValueError(f"sqrtm has a large imaginary part {np.abs(covmean.imag).max():.3g}")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(max(0.0, diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean)))


def kernel_distance(a: np.ndarray, b: np.ndarray, subset_size: int = 1000, n_subsets: int = 50,
                    seed: int = 0) -> tuple[float, float]:
    """KID: unbiased MMD^2 with the kernel k(x, y) = (x.y / D + 1)^3, averaged over random subsets.
    Returns (mean, standard deviation over subsets). Can be slightly negative for equal distributions."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        off = m * (m - 1)
        values.append((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off
                      - 2.0 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def _inside_any_ball(queries: torch.Tensor, refs: torch.Tensor, radii: torch.Tensor,
                        chunk: int = 1000) -> torch.Tensor:
    """For each query: is it inside the ball of radius radii[j] around any refs[j]? -> (Q,) bool."""
    inside = []
    for i in range(0, len(queries), chunk):
        dist = torch.cdist(queries[i:i + chunk], refs)                # (q, R)
        inside.append((dist <= radii[None, :]).any(1))
    return torch.cat(inside)


def _knn_radii(feats: torch.Tensor, k: int, chunk: int = 1000) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    radii = []
    for i in range(0, len(feats), chunk):
        dist = torch.cdist(feats[i:i + chunk], feats)
        radii.append(dist.kthvalue(k + 1, dim=1).values)            # +1: the row itself is at distance 0
    return torch.cat(radii)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Precision: share of fake rows inside the real manifold (union of balls to each real row's k-th
    neighbour); recall: share of real rows inside the fake manifold."""
    r = torch.as_tensor(np.asarray(real), dtype=torch.float32)
    f = torch.as_tensor(np.asarray(fake), dtype=torch.float32)
    if min(len(r), len(f)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} rows in each set")
    precision = _inside_any_ball(f, r, _knn_radii(r, k)).float().mean().item()
    recall = _inside_any_ball(r, f, _knn_radii(f, k)).float().mean().item()
    return precision, recall
