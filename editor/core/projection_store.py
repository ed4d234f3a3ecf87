"""Projection fits kept for the session and on disk, so a map is fitted once (issue 15, finding 7).

A fit is known by its key: the checkpoint's sha256, the method, every option that decides the fit, and a
digest of the latents it was fitted on (which says the data split, size and folder). Switching PCA -> t-SNE ->
PCA -> t-SNE, or to another model and back, takes the fit kept in memory; the next session reads it from the
user's cache folder (the map cache's, editor/core/map_cache.py, whose size cap covers these files too).

What is stored is what `Projection.restore` needs besides the latents: arrays only (PCA: mean and axes;
t-SNE/UMAP: the map points and which of them the library fitted), so a click's inverse and a new latent's
placement are rebuilt exactly. A file is data anyone could have written: it is read with a byte cap, its header
must name this key, and every array is checked by restore(); a corrupt, truncated or hostile file is deleted,
ignored and the projection refitted. Qt-free: the load and projection jobs call it from their threads.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from latent_atlas.editor.core import map_cache
from latent_atlas.models.latent import projection as projections  # make_projection looked up on use
from latent_atlas.models.latent.projection import Projection, ProjectionError

STORE_VERSION = "1"
MAX_IN_MEMORY = 6          # fits kept for the session: a t-SNE of 60,000 32-d latents with its inverse
#                            and placement holds ~35 MB (tracemalloc, imports warm), of 10,000 16-d ~4 MB
MAX_ARRAYS = 4


def fit_key(sha256: str, latents: np.ndarray, method: str, options: dict) -> str:
    """The key of the fit of `method` with `options` on these latents of that checkpoint. ProjectionError
    for options the method does not take (or UMAP without umap-learn)."""
    params = projections.make_projection(method, **options).params()
    latents = np.ascontiguousarray(latents, np.float32)
    digest = hashlib.sha256(latents.data).hexdigest()       # 60,000 x 32 floats: ~5 ms
    text = json.dumps({"sha256": sha256, "method": method, "params": params, "latents": digest,
                       "shape": list(latents.shape)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def store_path(key: str) -> Path:
    return map_cache.cache_dir() / f"projection-{key[:40]}-v{STORE_VERSION}.safetensors"


class ProjectionStore:
    """Fits by key: in memory for the session (the newest MAX_IN_MEMORY), and in the cache folder."""

    def __init__(self, use_disk: bool = True):
        self.use_disk = use_disk
        self._lock = threading.Lock()          # the GUI thread reads while a projection job writes
        self._fits: OrderedDict[str, Projection] = OrderedDict()
        self.fits_made = 0                     # fit() calls that ran the method (tests, the status line)

    def known(self, key: str) -> Projection | None:
        """The fit kept in memory, or None. Cheap: the GUI thread asks before starting a job."""
        with self._lock:
            projection = self._fits.get(key)
            if projection is not None:
                self._fits.move_to_end(key)
            return projection

    def get_or_fit(self, key: str, method: str, options: dict, latents: np.ndarray, *, fit_options=None,
                   progress=None, should_stop=None) -> Projection:
        """From memory, else from disk, else fitted (then kept and written). For a worker thread: a fit may
        take minutes. fit_options (in_subprocess) change where it runs, not the fit."""
        projection = self.known(key)
        if projection is None and self.use_disk:
            projection = self._read(key, method, options, latents)
        if projection is None:
            projection = projections.make_projection(method, **options, **(fit_options or {}))
            projection.fit(latents, progress=progress, should_stop=should_stop)
            self.fits_made += 1
            if self.use_disk:
                self._write(key, projection)
        self.keep(key, projection)
        return projection

    def keep(self, key: str, projection: Projection) -> None:
        with self._lock:
            self._fits[key] = projection
            self._fits.move_to_end(key)
            while len(self._fits) > MAX_IN_MEMORY:
                self._fits.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._fits.clear()
            self.fits_made = 0

    # -- disk -------------------------------------------------------------------------------------------
    def _read(self, key, method, options, latents) -> Projection | None:
        path = store_path(key)
        try:
            if not path.is_file():
                return None
            if path.stat().st_size > map_cache.MAX_FILE_BYTES:
                raise ValueError("larger than the cap")
            with open(path, "rb") as f:
                data = f.read(map_cache.MAX_FILE_BYTES + 1)
            meta, arrays = _parse(data)
            if meta.get("version") != STORE_VERSION or meta.get("key") != key or meta.get("method") != method:
                raise ValueError("made for another fit or version")
            projection = projections.make_projection(method, **options).restore(latents, arrays)
        except Exception:                  # noqa: BLE001 -- any flaw (the library's own errors too): refit
            map_cache.forget(path)
            return None
        try:
            os.utime(path)                 # used now: the folder cap removes the least recently used first
        except OSError:
            pass
        return projection

    def _write(self, key: str, projection: Projection) -> Path | None:
        """Atomic (temp file, fsync, rename); a cache that cannot be written is skipped."""
        from safetensors.numpy import save

        from latent_atlas.models.checkpoints.atomic_io import atomic_write_bytes

        arrays = {k: np.ascontiguousarray(v) for k, v in projection.fitted_arrays().items()}
        data = save(arrays, metadata={"version": STORE_VERSION, "key": key, "method": projection.method,
                                      "params": json.dumps(projection.params())})
        if len(data) > map_cache.MAX_FILE_BYTES:
            return None
        path = store_path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
            map_cache.trim(path.parent)
        except OSError:
            return None
        return path


def _parse(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The header's metadata and the arrays of a safetensors file in memory, the header's size checked first
    (a hostile length must not make the library read or allocate gigabytes)."""
    from safetensors.numpy import load

    if len(data) < 8:
        raise ValueError("too short")
    n_header = int.from_bytes(data[:8], "little")
    if n_header > min(len(data) - 8, 1 << 16):
        raise ValueError("header too large")
    header = json.loads(data[8:8 + n_header])
    if not isinstance(header, dict) or len(header) > MAX_ARRAYS + 1:
        raise ValueError("not a projection's header")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError("metadata")
    return meta, load(data)


_SESSION = ProjectionStore()


def session_store() -> ProjectionStore:
    """The editor's store: one per process, so every window and model switch of a session shares it."""
    return _SESSION


def forget_all() -> None:
    """The session's fits and every stored fit in the cache folder go (tests; a user's 'clear cache')."""
    _SESSION.clear()
    for path in map_cache.cache_dir().glob(f"projection-*-v{STORE_VERSION}.safetensors"):
        map_cache.forget(path)


__all__ = ["ProjectionError", "ProjectionStore", "fit_key", "forget_all", "session_store", "store_path"]
