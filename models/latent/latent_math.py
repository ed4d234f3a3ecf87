"""Latent-space arithmetic: interpolation, attribute vectors, conditional edits, traversals, KL per dimension,
off-data checks.

Torch tensors in, torch tensors out (lerp, slerp and interpolation_path take numpy arrays as well). Functions that act on one latent take (D,) or a batch (B, D); the
last dimension is always the latent dimension.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

_EPS = 1e-12
_PARALLEL_SIN = 1e-4      # below this sin(angle) slerp divides by ~0; lerp is the same curve to 1e-8 there
_LENGTH_SAMPLES = 16      # points per segment when measuring a slerp arc's length for even frame spacing


class _Numpy:
    """The few array operations lerp, slerp and interpolation_path need, for numpy arrays. Torch's per-call
    overhead (~5 us) made a 16-frame slerp strip 0.9-1.5 ms on the GUI thread at every drag move; numpy's takes a
    tenth of that. The maths below is written once for both (torch tensors in give torch tensors out)."""

    @staticmethod
    def as_t(t, like):
        return np.asarray(t, like.dtype)[..., None]

    norm = staticmethod(lambda x: np.linalg.norm(x, axis=-1, keepdims=True))
    clamp_min = staticmethod(lambda x, lo: np.maximum(x, lo))
    clamp = staticmethod(np.clip)
    acos, sin, where, cumsum, searchsorted = np.arccos, np.sin, np.where, np.cumsum, np.searchsorted
    linspace = staticmethod(lambda a, b, n, like: np.linspace(a, b, n, dtype=like.dtype))
    zeros1 = staticmethod(lambda like: np.zeros(1, like.dtype))
    cat = staticmethod(np.concatenate)
    take_last = staticmethod(lambda x: x[..., 0])
    rowsum = staticmethod(lambda x: x.sum(-1, keepdims=True))
    rows = staticmethod(lambda s, n: np.broadcast_to(s, (n, len(s))))


class _Torch:
    @staticmethod
    def as_t(t, like):
        return torch.as_tensor(t, dtype=like.dtype, device=like.device).unsqueeze(-1)

    norm = staticmethod(lambda x: x.norm(dim=-1, keepdim=True))
    clamp_min = staticmethod(lambda x, lo: x.clamp_min(lo))
    clamp = staticmethod(torch.clamp)
    acos, sin, where = torch.acos, torch.sin, torch.where
    cumsum = staticmethod(lambda x: x.cumsum(0))
    searchsorted = staticmethod(lambda a, v, side: torch.searchsorted(a, v, right=side == "right"))
    linspace = staticmethod(lambda a, b, n, like: torch.linspace(a, b, n, dtype=like.dtype, device=like.device))
    zeros1 = staticmethod(lambda like: like.new_zeros(1))
    cat = staticmethod(torch.cat)
    take_last = staticmethod(lambda x: x[..., 0])
    rowsum = staticmethod(lambda x: x.sum(-1, keepdim=True))
    rows = staticmethod(lambda s, n: s.expand(n, -1))


def _ops(x):
    return _Numpy if isinstance(x, np.ndarray) else _Torch


def _as_t(t, like: torch.Tensor) -> torch.Tensor:
    """t as a tensor with a trailing axis, so (T,) against (D,) gives (T, D) and (B,) against (B, D) rows."""
    return _ops(like).as_t(t, like)


def lerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Straight-line interpolation z0 + t (z1 - z0).

    t is a float, or a tensor broadcast against the leading dimensions: z (D,) with t (T,) gives (T, D);
    z (B, D) with t (B,) interpolates each row at its own t. Torch tensors or numpy arrays.
    """
    tt = _as_t(t, z0)
    return z0 + tt * (z1 - z0)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Spherical interpolation: the direction moves along the great circle, the norm moves linearly.

    When the norms differ, a plain slerp of the vectors would bend the norm too; interpolating direction
    and norm separately keeps the norm a straight ramp from |z0| to |z1| (for a Gaussian prior the norm
    says how typical a latent is, so a midpoint keeps the typicality of its ends, where lerp shrinks it).
    Falls back to lerp where the directions are (anti)parallel or a vector is zero: the angle is then
    undefined or the great circle is not unique. t = 0 and t = 1 return z0 and z1 exactly.
    Same t broadcasting as lerp; torch tensors or numpy arrays.
    """
    xp = _ops(z0)
    tt = _as_t(t, z0)
    n0, n1 = xp.norm(z0), xp.norm(z1)
    u0 = z0 / xp.clamp_min(n0, _EPS)
    u1 = z1 / xp.clamp_min(n1, _EPS)
    omega = xp.acos(xp.clamp(xp.rowsum(u0 * u1), -1.0, 1.0))
    sin_omega = xp.sin(omega)
    degenerate = (sin_omega < _PARALLEL_SIN) | (n0 < _EPS) | (n1 < _EPS)
    safe_sin = xp.where(degenerate, 1.0, sin_omega)
    direction = (xp.sin((1 - tt) * omega) * u0 + xp.sin(tt * omega) * u1) / safe_sin
    out = direction * ((1 - tt) * n0 + tt * n1)
    out = xp.where(degenerate, lerp(z0, z1, t), out)
    out = xp.where(tt == 0, z0, out)
    return xp.where(tt == 1, z1, out)


def interpolation_path(points: torch.Tensor, n_frames: int,
                       mode: Literal["lerp", "slerp"] = "slerp") -> torch.Tensor:
    """(n_frames, D) latents along the path through P >= 2 waypoints (P, D), evenly spaced by arc length.

    Each segment gets a share of the frames proportional to its length (chord length for lerp, the
    measured arc length for slerp), so an animation moves at constant speed; first and last frames are
    the first and last waypoints exactly. A middle waypoint is a frame only when its arc length lands on
    the frame grid. Torch tensors or numpy arrays (the same kind back).
    """
    if points.ndim != 2 or points.shape[0] < 2:
        raise ValueError(f"an interpolation path needs at least 2 waypoints as (P, D); got shape "
                         f"{tuple(points.shape)}")
    if n_frames < 2:
        raise ValueError(f"an interpolation path needs at least 2 frames; got {n_frames}")
    if mode not in ("lerp", "slerp"):
        raise ValueError(f"interpolation mode must be 'lerp' or 'slerp'; got {mode!r}")
    xp = _ops(points)
    interp = lerp if mode == "lerp" else slerp
    a, b = points[:-1], points[1:]                                        # (S, D) segment ends
    if mode == "lerp" or len(a) == 1:   # one segment (a drag) gets every frame: its chord does as well as its arc
        lengths = xp.take_last(xp.norm(b - a))                            # (S,)
    else:
        s = xp.linspace(0, 1, _LENGTH_SAMPLES + 1, points)
        samples = interp(a[:, None], b[:, None], xp.rows(s, len(a)))       # (S, K+1, D)
        lengths = xp.take_last(xp.norm(samples[:, 1:] - samples[:, :-1])).sum(-1)
    if float(lengths.sum()) <= _EPS:                                      # all waypoints equal
        lengths = lengths * 0 + 1
    cum = xp.cat([xp.zeros1(lengths), xp.cumsum(lengths)])               # (S + 1,)
    targets = xp.linspace(0, float(cum[-1]), n_frames, points)
    seg = xp.clamp(xp.searchsorted(cum, targets, "right") - 1, 0, len(lengths) - 1)   # (F,)
    local = xp.clamp((targets - cum[seg]) / xp.clamp_min(lengths[seg], _EPS), 0, 1)
    frames = interp(a[seg], b[seg], local)
    frames[0], frames[-1] = points[0], points[-1]
    return frames


def attribute_vector(z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(D,) mean of the latents with the attribute minus the mean of those without:
    mean(z[mask]) - mean(z[~mask]); z is (N, D), mask is bool (N,)."""
    mask = torch.as_tensor(mask, device=z.device).bool()
    if z.ndim != 2 or mask.shape != z.shape[:1]:
        raise ValueError(f"attribute_vector needs latents (N, D) and a mask (N,); got {tuple(z.shape)} "
                         f"and {tuple(mask.shape)}")
    n_with = int(mask.sum())
    if n_with == 0 or n_with == len(mask):
        side = "with" if n_with == 0 else "without"
        raise ValueError(f"cannot compute an attribute vector: no latents {side} the attribute "
                         f"({n_with} of {len(mask)} selected); both groups need at least one latent")
    return z[mask].mean(0) - z[~mask].mean(0)


def apply_vectors(z: torch.Tensor, vectors: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """z + sum(w * v) over the attribute vectors; z is (D,) or (B, D), each vector (D,)."""
    if len(vectors) != len(weights):
        raise ValueError(f"apply_vectors got {len(vectors)} vectors but {len(weights)} weights")
    out = z.clone()
    for v, w in zip(vectors, weights):
        out = out + float(w) * v.to(dtype=z.dtype, device=z.device)
    return out


def orthogonalise(v: torch.Tensor, against: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """v minus its projection on the span of `against` ((D,), (K, D) or a list of (D,)).

    The `against` vectors are first made orthonormal (modified Gram-Schmidt, dropping ones that are zero
    or already in the span), so overlapping vectors are not subtracted twice.
    """
    if isinstance(against, torch.Tensor):
        against = [against] if against.ndim == 1 else list(against)
    basis: list[torch.Tensor] = []
    for u in against:
        u = u.to(dtype=v.dtype, device=v.device)
        original = u.norm()
        for e in basis:
            u = u - (u @ e) * e
        norm = u.norm()
        if norm > 1e-6 * original and norm > _EPS:       # else zero, or already in the span
            basis.append(u / norm)
    out = v.clone()
    for e in basis:
        out = out - (out @ e).unsqueeze(-1) * e
    return out


def conditional_direction(v: torch.Tensor, protected: torch.Tensor | Sequence[torch.Tensor]
                          ) -> tuple[torch.Tensor, float]:
    """InterFaceGAN's conditional edit: v (D,) with the span of the protected attributes' directions
    projected out, and the cosine between v and that span (|removed| / |v|: 0 when v already leaves them
    alone, 1 when v lay inside the span and nothing is left).

    Moving along the result changes no protected direction's coordinate, so a linear read-out of a protected
    attribute (a classifier normal) gives the same score before and after the edit.
    """
    if v.ndim != 1:
        raise ValueError(f"conditional_direction needs one direction (D,); got shape {tuple(v.shape)}")
    kept = orthogonalise(v, protected)
    removed = float((v - kept).norm() / v.norm().clamp_min(_EPS))
    return kept, min(removed, 1.0)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity over the last dimension; 0 where either vector is zero."""
    na, nb = a.norm(dim=-1), b.norm(dim=-1)
    return (a * b).sum(-1) / (na * nb).clamp_min(_EPS)


def cosine_matrix(vectors: torch.Tensor) -> torch.Tensor:
    """(K, K) cosine similarities between the rows of (K, D)."""
    unit = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    return unit @ unit.T


def traversal(z: torch.Tensor, dims: Sequence[int], values: torch.Tensor) -> torch.Tensor:
    """(len(dims), V, D): copies of z (D,) with dimension dims[i] set to each of values (V,)."""
    if z.ndim != 1:
        raise ValueError(f"traversal needs one latent (D,); got shape {tuple(z.shape)}")
    bad = [d for d in dims if not -z.shape[0] <= d < z.shape[0]]
    if bad:
        raise ValueError(f"traversal dimensions {bad} are outside the latent's {z.shape[0]} dimensions")
    values = torch.as_tensor(values, dtype=z.dtype, device=z.device).reshape(-1)
    out = z.expand(len(dims), len(values), z.shape[0]).clone()
    for i, d in enumerate(dims):
        out[i, :, d] = values
    return out


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(D,) KL(N(mu, exp(logvar)) || N(0, 1)) per dimension, averaged over the N rows of (N, D)."""
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0)


def dims_by_kl(mu: torch.Tensor, logvar: torch.Tensor) -> list[int]:
    """Latent dimensions sorted from the most used (highest KL) to the least; ties keep index order."""
    kl = kl_per_dimension(mu, logvar)
    return [int(i) for i in torch.argsort(-kl, stable=True)]


class NearestData:
    """A nearest-neighbour index of the data latents (N, D), fitted once: distances to the data and the
    off-data threshold both query it, so a drag that checks every strip never refits it."""

    def __init__(self, data: torch.Tensor | np.ndarray):
        x = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(f"NearestData needs data latents as (N, D) with N >= 1; got {tuple(x.shape)}")
        self.n = x.shape[0]
        from sklearn.neighbors import NearestNeighbors  # here: importing scikit-learn takes a second

        self._index = NearestNeighbors(n_neighbors=1).fit(x)

    def distance(self, z: torch.Tensor) -> torch.Tensor:
        """(M,) Euclidean distance from each latent of z (M, D) (or one (D,)) to its nearest data latent."""
        single = z.ndim == 1
        query = z.reshape(1, -1) if single else z
        dist, _ = self._index.kneighbors(query.detach().cpu().numpy())
        out = torch.from_numpy(dist[:, 0]).to(dtype=z.dtype, device=z.device)
        return out[0] if single else out

    def threshold(self, q: float = 0.99) -> float:
        """The q-quantile of each data latent's distance to its nearest OTHER data latent.

        A latent further than this from every data latent "leaves the data": fewer than 1 - q of the data
        points are that isolated, so decodes there are extrapolations.
        """
        if self.n < 2:
            raise ValueError(f"off_data_threshold needs at least 2 data latents; got {self.n}")
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile q must lie in [0, 1]; got {q}")
        dist, _ = self._index.kneighbors()   # no query: each point's neighbours exclude itself
        return float(np.quantile(dist[:, 0], q))


def nearest_distance(z: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """(M,) distance from each latent of z (M, D) (or one (D,)) to its nearest data latent (one-off)."""
    return NearestData(data).distance(z)


def off_data_threshold(data: torch.Tensor, q: float = 0.99) -> float:
    """NearestData(data).threshold(q), one-off."""
    if data.ndim != 2 or data.shape[0] < 2:
        raise ValueError(f"off_data_threshold needs at least 2 data latents as (N, D); got "
                         f"{tuple(data.shape)}")
    return NearestData(data).threshold(q)
