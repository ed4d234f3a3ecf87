"""The projection service: latents (N, D) <-> a 2-D map, for the latent map panel.

`make_projection(method, **options)` builds one of PROJECTION_METHODS; `fit(Z)` learns the map,
`embedding` is the (N, 2) map of the fitted latents, `transform(Z)` maps latents to the map and
`inverse(P)` maps clicked map points back to latents. numpy float32 in and out.

- pca: linear; inverse exact (transform(inverse(P)) == P). keep_residual=True adds the off-plane part of
  the nearest data point's latent, so decodes look like data instead of a blurry plane.
- tsne / umap: nonlinear; only the fitted latents have exact map points. transform of other latents and
  inverse of map points interpolate between neighbours (see projection_inverse.py).
- identity: the latents are already 2-D.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from latent_atlas.models.errors import LatentAtlasError
from latent_atlas.models.latent.projection_inverse import NeighbourEmbedding, TriangulationInverse

PROJECTION_METHODS = ("pca", "tsne", "umap", "identity")
UMAP_MISSING = "UMAP needs the optional package umap-learn: pip install 'latent-atlas[umap]'"

Progress = Callable[[float], None] | None
ShouldStop = Callable[[], bool] | None


class ProjectionError(LatentAtlasError):
    """A projection cannot be built: too few or non-finite latents, bad options, a missing package."""


class ProjectionStopped(ProjectionError):
    """fit() saw should_stop() return True; the projection keeps what it had fitted before."""


def umap_available() -> bool:
    """Without importing it: umap-learn compiles its numba kernels on import (seconds), and the editor asks on
    the GUI thread (editor/core/projection_store.fit_key builds the projection to read its options)."""
    import importlib.util

    try:
        return importlib.util.find_spec("umap") is not None
    except ValueError:               # sys.modules["umap"] is None: an import of it would fail
        return False


def _as_points(X, width: int | None, what: str) -> np.ndarray:
    """X as a finite float32 (M, width) array, or ProjectionError naming what was wrong."""
    arr = np.asarray(X, dtype=np.float32)
    if arr.ndim == 1 and width is not None and arr.shape[0] == width:
        arr = arr[None]
    if arr.ndim != 2 or (width is not None and arr.shape[1] != width):
        want = f"(M, {width})" if width is not None else "(N, D)"
        raise ProjectionError(f"{what} must have shape {want}; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ProjectionError(f"{what} contain NaN or infinite values ({int((~np.isfinite(arr)).sum())} "
                              f"entries); a projection needs finite numbers")
    return arr


class Projection:
    """Base class: subclasses implement _fit (returning their fitted state), _transform and _inverse."""

    method = ""

    def __init__(self):
        self._embedding: np.ndarray | None = None
        self._latent_dim: int | None = None

    def fit(self, Z, progress: Progress = None, should_stop: ShouldStop = None) -> Projection:
        """Fit on latents Z (N, D). progress gets fractions in [0, 1]; should_stop is polled between steps
        (a step may be long: see TSNEProjection) and stops the fit by raising ProjectionStopped."""
        Z = _as_points(Z, None, "latents")
        if len(Z) < 3:
            raise ProjectionError(f"a projection needs at least 3 latents; got {len(Z)}")
        report = progress or (lambda fraction: None)
        stop = should_stop or (lambda: False)
        report(0.0)
        self._check_stop(stop)
        state = self._fit(Z, report, stop)
        self._check_stop(stop)
        # assigned only now, so a stopped or failed fit leaves the previous projection usable
        self.__dict__.update(state)
        self._latent_dim = Z.shape[1]
        report(1.0)
        return self

    @property
    def embedding(self) -> np.ndarray:
        """(N, 2) map points of the fitted latents."""
        self._require_fitted()
        return self._embedding

    def transform(self, Z) -> np.ndarray:
        """(N, D) latents -> (N, 2) map points."""
        self._require_fitted()
        return self._transform(_as_points(Z, self._latent_dim, "latents"))

    def inverse(self, P) -> np.ndarray:
        """(M, 2) map points -> (M, D) latents."""
        self._require_fitted()
        return self._inverse(_as_points(P, 2, "map points"))

    def _require_fitted(self):
        if self._embedding is None:
            raise ProjectionError(f"the {self.method} projection has not been fitted yet: call fit(Z) first")

    @staticmethod
    def _check_stop(stop: Callable[[], bool]):
        if stop():
            raise ProjectionStopped("projection stopped before it finished")

    def _fit(self, Z, report, stop) -> dict: raise NotImplementedError
    def _transform(self, Z) -> np.ndarray: raise NotImplementedError
    def _inverse(self, P) -> np.ndarray: raise NotImplementedError

    # -- keeping a fit: editor/core/projection_store.py ------------------------------------------------
    def params(self) -> dict:
        """The options that decide the fit (JSON numbers and lists): make_projection(method, **params)
        makes the same projection. Where it runs (in_subprocess) is not one of them."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()
                if not k.startswith("_") and k != "in_subprocess"}

    def fitted_arrays(self) -> dict[str, np.ndarray]:
        """What restore() needs besides the latents, as plain arrays (no pickle): a cache file holds these."""
        self._require_fitted()
        return self._arrays()

    def restore(self, Z, arrays: dict[str, np.ndarray]) -> Projection:
        """The fitted projection again, from the latents Z it was fitted on and fitted_arrays(), without
        refitting. The arrays may come from a file anyone could have written: ProjectionError unless every
        one has the dtype, shape and values a fit makes."""
        Z = _as_points(Z, None, "latents")
        try:
            state = self._restored(Z, {k: np.asarray(v) for k, v in arrays.items()})
        except (KeyError, ValueError, IndexError) as e:
            raise ProjectionError(f"the stored {self.method} projection does not fit these latents: {e}") from None
        self.__dict__.update(state)
        self._latent_dim = Z.shape[1]
        return self

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"embedding": self._embedding}

    def _restored(self, Z, arrays) -> dict:
        return {"_embedding": _checked_embedding(arrays, len(Z))}


def _checked_embedding(arrays: dict, n: int) -> np.ndarray:
    embedding = arrays["embedding"]
    if embedding.dtype != np.float32 or embedding.shape != (n, 2) or not np.isfinite(embedding).all():
        raise ValueError(f"embedding {embedding.dtype} {embedding.shape} is not {n} finite float32 map points")
    return embedding


class PCAProjection(Projection):
    """Two chosen principal components. inverse(P) = mean + P @ W, exactly undone by transform."""

    method = "pca"

    def __init__(self, components: tuple[int, int] = (0, 1), keep_residual: bool = False):
        super().__init__()
        if (len(components) != 2 or not all(isinstance(c, (int, np.integer)) and c >= 0 for c in components)
                or components[0] == components[1]):
            raise ProjectionError(f"PCA components must be two different non-negative indices; "
                                  f"got {components}")
        self.components = (int(components[0]), int(components[1]))
        self.keep_residual = bool(keep_residual)

    def _fit(self, Z, report, stop):
        n, d = Z.shape
        if max(self.components) >= min(n, d):
            raise ProjectionError(f"PCA components {self.components} do not exist: {n} latents of dimension "
                                  f"{d} have {min(n, d)} components (indices 0 to {min(n, d) - 1})")
        Z64 = Z.astype(np.float64)
        mean = Z64.mean(0)
        centred = Z64 - mean
        # eigh of the D x D covariance: O(N D^2), far cheaper than an SVD of (N, D) when N >> D
        values, vectors = np.linalg.eigh(centred.T @ centred)
        order = np.argsort(values)[::-1]
        W = vectors[:, order[list(self.components)]].T                       # (2, D) orthonormal rows
        # an eigenvector's sign is arbitrary: fix it so refitting similar data does not mirror the map
        W *= np.sign(W[np.arange(2), np.abs(W).argmax(1)])[:, None]
        embedding = centred @ W.T                                            # (N, 2)
        state = {"_mean": mean, "_W": W, "_embedding": embedding.astype(np.float32)}
        if self.keep_residual:
            state["_residual"] = (centred - embedding @ W).astype(np.float32)  # (N, D) off-plane parts
            from scipy.spatial import cKDTree  # here: a quarter second, after the first image

            state["_tree"] = cKDTree(embedding)
        return state

    def _transform(self, Z):
        return ((Z.astype(np.float64) - self._mean) @ self._W.T).astype(np.float32)

    def _arrays(self):
        return {"mean": self._mean, "W": self._W}

    def _restored(self, Z, arrays):
        mean, W = arrays["mean"], arrays["W"]
        d = Z.shape[1]
        if mean.dtype != np.float64 or mean.shape != (d,) or W.dtype != np.float64 or W.shape != (2, d):
            raise ValueError(f"mean {mean.shape} and axes {W.shape} are not ({d},) and (2, {d}) float64")
        if not (np.isfinite(mean).all() and np.isfinite(W).all()) or not np.allclose(W @ W.T, np.eye(2), atol=1e-6):
            raise ValueError("the axes are not two orthonormal directions")
        centred = Z.astype(np.float64) - mean
        embedding = centred @ W.T                                            # (N, 2): cheap, so not stored
        state = {"_mean": mean, "_W": W, "_embedding": embedding.astype(np.float32)}
        if self.keep_residual:
            state["_residual"] = (centred - embedding @ W).astype(np.float32)
            from scipy.spatial import cKDTree  # here: a quarter second, after the first image

            state["_tree"] = cKDTree(embedding)
        return state

    def _inverse(self, P):
        P64 = P.astype(np.float64)
        out = self._mean + P64 @ self._W                                     # (M, D) on the plane
        if self.keep_residual:
            _, nearest = self._tree.query(P64)       # nearest in 2-D: the data point the user clicked near
            out += self._residual[nearest]           # orthogonal to the plane, so transform is unchanged
        return out.astype(np.float32)


class IdentityProjection(Projection):
    """For 2-D latent spaces: the map is the latent space."""

    method = "identity"

    def _fit(self, Z, report, stop):
        if Z.shape[1] != 2:
            raise ProjectionError(f"the identity projection needs 2-D latents; these have {Z.shape[1]} "
                                  f"dimensions (use pca, tsne or umap)")
        return {"_embedding": Z.copy()}

    def _transform(self, Z):
        return Z.copy()

    def _inverse(self, P):
        return P.copy()


class _NeighbourMapProjection(Projection):
    """A nonlinear embedding fitted on at most max_points latents (a random subset beyond that, the rest
    placed by NeighbourEmbedding); transform and inverse interpolate between fitted points."""

    def __init__(self, max_points: int | None, random_state: int, k: int, in_subprocess: bool = False):
        super().__init__()
        if max_points is not None and max_points < 3:
            raise ProjectionError(f"max_points must be at least 3; got {max_points}")
        self.max_points, self.random_state, self.k = max_points, int(random_state), int(k)
        # in a spawned process the fit can be cancelled for real (the library has no stop hook); the process is
        # kept between fits (UMAP compiles its kernels once in it), so the editor uses it; scripts need not
        self.in_subprocess = bool(in_subprocess)

    def _run_embed(self, Z: np.ndarray, stop, report) -> np.ndarray:
        """The library's fit; `report` gets its progress as a fraction of the fit (when the library says)."""
        if not self.in_subprocess:
            return self._embed(Z, progress=report, should_stop=stop)
        from latent_atlas.models.latent.cancellable_process import ProcessCancelled, run_cancellable
        try:
            return run_cancellable(_embed_in_child, (type(self), self._params(), Z), stop, progress=report)
        except ProcessCancelled:
            raise ProjectionStopped("the projection was cancelled") from None
        except RuntimeError as e:
            raise ProjectionError(f"{self.method} failed: {e}") from None

    def _params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "in_subprocess"}

    def _embed(self, Z: np.ndarray, progress=None, should_stop=None) -> np.ndarray:
        raise NotImplementedError

    def _fit(self, Z, report, stop):
        n = len(Z)
        if self.max_points is not None and n > self.max_points:
            rng = np.random.default_rng(self.random_state)
            subset = np.sort(rng.choice(n, self.max_points, replace=False))
        else:
            subset = np.arange(n)
        embedding = np.empty((n, 2), dtype=np.float32)
        embedding[subset] = self._run_embed(Z[subset], stop, lambda f: report(0.9 * min(1.0, max(0.0, f))))
        report(0.9)
        self._check_stop(stop)
        rest = np.setdiff1d(np.arange(n), subset)
        if len(rest):
            embedding[rest] = NeighbourEmbedding(Z[subset], embedding[subset], self.k)(Z[rest])
        return self._maps(Z, embedding, subset)

    def _maps(self, Z, embedding, fitted) -> dict:
        return {"_embedding": embedding, "_fitted": fitted,
                "_to_map": NeighbourEmbedding(Z, embedding, self.k),
                "_from_map": TriangulationInverse(embedding, Z, self.k)}

    def _arrays(self):
        return {"embedding": self._embedding, "fitted": self._fitted}

    def _restored(self, Z, arrays):
        embedding, fitted = _checked_embedding(arrays, len(Z)), arrays["fitted"]
        if (fitted.dtype != np.int64 or fitted.ndim != 1 or len(fitted) < 3 or fitted[0] < 0
                or fitted[-1] >= len(Z) or np.any(np.diff(fitted) <= 0)):
            raise ValueError("the fitted points are not increasing indices of the latents")
        return self._maps(Z, embedding, fitted)

    def _transform(self, Z):
        return self._to_map(Z)

    def _inverse(self, P):
        return self._from_map(P)


def _embed_in_child(cls, params: dict, Z: np.ndarray, progress=None) -> np.ndarray:
    import os

    from threadpoolctl import threadpool_limits

    projection = cls.__new__(cls)
    Projection.__init__(projection)
    vars(projection).update(params)
    # leave a core to the editor's GUI and decode threads; OpenMP spinning on every core stalls them
    with threadpool_limits(max(1, (os.cpu_count() or 2) - 1)):
        return projection._embed(Z, progress=progress)


class TSNEProjection(_NeighbourMapProjection):
    """openTSNE's FFT-accelerated t-SNE (Poličar et al.), which reports every iteration to a callback:
    progress is real (the neighbour search, then the 250 early-exaggeration and max_iter - 250 iterations)
    and should_stop ends it between iterations (the editor also runs it in a child process, so Cancel works
    whatever the library does). scikit-learn's Barnes-Hut t-SNE, with no progress and no stop, when
    openTSNE is not installed. Above max_points latents (default 10,000), t-SNE runs on a random subset of
    max_points and the others are placed by the k-nearest-neighbour transform."""

    method = "tsne"

    def __init__(self, perplexity: float = 30.0, max_points: int | None = 10_000, random_state: int = 0,
                 max_iter: int = 1000, k: int = 8, in_subprocess: bool = False):
        super().__init__(max_points, random_state, k, in_subprocess)
        self.perplexity, self.max_iter = float(perplexity), int(max_iter)

    def _maps(self, Z, embedding, fitted):
        """transform places a single new latent (your image, a sample) as openTSNE's transform does
        (models/latent/tsne_placement.py), not between their neighbours' points: a latent between two clusters
        goes to one of them, as t-SNE would put it. More at once (a strip's path, redrawn during a drag), and
        without openTSNE: the neighbour weighting."""
        from latent_atlas.models.latent.tsne_placement import TSNEPlacement, opentsne_available

        maps = super()._maps(Z, embedding, fitted)
        maps["_placement"] = TSNEPlacement(Z, embedding, fitted) if opentsne_available() else None
        return maps

    def _transform(self, Z):
        if self._placement is None or len(Z) > PLACED_AT_ONCE:
            return self._to_map(Z)
        return self._placement(Z)

    def _embed(self, Z, progress=None, should_stop=None):
        perplexity = min(self.perplexity, (len(Z) - 1) / 3)     # both libraries require perplexity < N
        try:
            import openTSNE
        except ImportError:
            openTSNE = None
        if openTSNE is not None:
            return _open_tsne(openTSNE, Z, perplexity, self.max_iter, self.random_state, progress, should_stop)
        from sklearn.manifold import TSNE
        tsne = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=self.random_state,
                    max_iter=self.max_iter)
        return tsne.fit_transform(Z).astype(np.float32)


EXAGGERATION_ITERS = 250      # openTSNE's and scikit-learn's early-exaggeration phase
# the t-SNE placement of one latent on a 10,000-point map costs 21 ms, of 8 (a strip's frames) 150 ms and of
# 32 0.8 s: too slow for a path redrawn on every move of a drag (two frames or more), which keeps the neighbour
# weighting (~1 ms); a strip of 2-4 frames took the placement too, ~21 ms a frame on each move, and its path
# changed method at 5 frames
PLACED_AT_ONCE = 1


def _open_tsne(openTSNE, Z, perplexity, max_iter, random_state, progress, should_stop) -> np.ndarray:
    import os

    report = progress or (lambda fraction: None)
    stop = should_stop or (lambda: False)
    total = max(max_iter, EXAGGERATION_ITERS + 1)
    done = {"base": 0, "last": 0}

    def callback(iteration, error, embedding) -> bool:
        if iteration < done["last"]:                 # the second phase counts from 1 again
            done["base"] += done["last"]
        done["last"] = iteration
        report(0.1 + 0.9 * (done["base"] + iteration) / total)
        return bool(stop())                          # True ends the optimisation

    report(0.0)
    tsne = openTSNE.TSNE(n_components=2, perplexity=perplexity, initialization="pca",
                         early_exaggeration_iter=EXAGGERATION_ITERS, n_iter=total - EXAGGERATION_ITERS,
                         random_state=random_state, n_jobs=max(1, (os.cpu_count() or 2) - 1),
                         callbacks=callback, callbacks_every_iters=10, verbose=False)
    embedding = tsne.fit(np.ascontiguousarray(Z, np.float64))
    if stop():
        raise ProjectionStopped("the projection was cancelled")
    return np.asarray(embedding, dtype=np.float32)


class UMAPProjection(_NeighbourMapProjection):
    """umap-learn's UMAP (optional dependency, imported on use). No progress during the fit."""

    method = "umap"

    def __init__(self, n_neighbors: int = 15, min_dist: float = 0.1, max_points: int | None = None,
                 random_state: int = 0, k: int = 8, in_subprocess: bool = False):
        if not umap_available():
            raise ProjectionError(UMAP_MISSING)
        super().__init__(max_points, random_state, k, in_subprocess)
        self.n_neighbors, self.min_dist = int(n_neighbors), float(min_dist)

    def _embed(self, Z, progress=None, should_stop=None):
        try:
            import umap
        except ImportError as exc:
            raise ProjectionError(UMAP_MISSING) from exc
        reducer = umap.UMAP(n_components=2, n_neighbors=min(self.n_neighbors, len(Z) - 1),
                            min_dist=self.min_dist, random_state=self.random_state)
        with warnings.catch_warnings():      # "n_jobs overridden to 1 by setting random_state": expected
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(reducer.fit_transform(Z), dtype=np.float32)


_REGISTRY: dict[str, type[Projection]] = {
    "pca": PCAProjection, "tsne": TSNEProjection, "umap": UMAPProjection, "identity": IdentityProjection,
}


def make_projection(method: str, **options) -> Projection:
    """An unfitted projection: make_projection("pca", components=(0, 2), keep_residual=True)."""
    cls = _REGISTRY.get(method)
    if cls is None:
        raise ProjectionError(f"unknown projection {method!r}; choose one of {', '.join(PROJECTION_METHODS)}")
    try:
        return cls(**options)
    except TypeError as exc:
        raise ProjectionError(f"bad options for the {method} projection {sorted(options)}: {exc}") from exc
