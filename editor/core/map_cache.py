"""The map of a checkpoint, kept on disk so that the next start shows it before torch is imported (issue 18).

What a cold start computes in its load job (the data set's posterior means, the 2-D projection, the first
image) is written, after a successful load, to one safetensors file in the user's cache folder, named by the
checkpoint's sha256 and the map's split, size and projection. A warm start reads it with numpy alone, draws
the map and the first image, and the load job then skips encoding the data set. The cache is data that
could have been written by anyone: it is read with a byte cap, every array's dtype and shape is checked
against the others and the header's description, and anything that does not fit is deleted and ignored
(a cold start follows). The folder is capped (oldest files go first).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE_VERSION = "2"          # 2: the data_refused reason (a version-1 map of refused data would hide it)
MAX_FILE_BYTES = 200 << 20
MAX_FOLDER_BYTES = 600 << 20
MAX_NAMES = 10_000
MAX_NAME_CHARS = 200
ARRAYS = ("images", "latents", "embedding", "first_image")            # always there
OPTIONAL = ("logvars", "labels", "conditions", "attributes")


def cache_dir() -> Path:
    root = os.environ.get("LATENT_ATLAS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "latent-atlas")
    return Path(root) / "maps"


def cache_path(sha256: str, split: str, limit: int, projection: str) -> Path:
    return cache_dir() / f"{sha256[:32]}-{split}-{int(limit)}-{projection}-v{CACHE_VERSION}.safetensors"


@dataclass
class CachedMap:
    sha256: str
    images: np.ndarray          # (N, H, W, C) uint8
    latents: np.ndarray         # (N, D) float32
    embedding: np.ndarray       # (N, 2) float32
    first_image: np.ndarray     # (H, W, C) uint8: the decode of latents[start_index]
    start_index: int
    logvars: np.ndarray | None
    labels: np.ndarray | None
    label_names: list[str]
    conditions: np.ndarray | None
    condition_names: list[str]
    attributes: np.ndarray | None
    attribute_names: list[str]
    source_note: str
    projection: str
    title: str
    data_refused: str | None = None   # why the recorded data was not loaded: the warm start says it too


def read_cached(sha256: str, split: str, limit: int, projection: str) -> CachedMap | None:
    """The cached map, or None when there is none or it does not check out (then it is deleted)."""
    path = cache_path(sha256, split, limit, projection)
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError("larger than the cap")
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        return _checked(data, sha256, projection)
    except Exception:                  # noqa: BLE001 -- any flaw (the library's own errors too): a cold start
        forget(path)
        return None


def _checked(data: bytes, sha256: str, projection: str) -> CachedMap:
    from safetensors.numpy import load

    if len(data) < 8:
        raise ValueError("too short")
    n_header = int.from_bytes(data[:8], "little")
    if n_header > min(len(data) - 8, 1 << 20):
        raise ValueError("header too large")
    meta = json.loads(data[8:8 + n_header]).get("__metadata__") or {}
    arrays = load(data)
    info = json.loads(meta.get("info", "{}"))
    if meta.get("version") != CACHE_VERSION or info.get("sha256") != sha256 or info.get("projection") != projection:
        raise ValueError("made for another checkpoint or version")
    images, latents, embedding, first = (arrays[k] for k in ARRAYS)
    n = len(latents)
    if not (images.dtype == np.uint8 and images.ndim == 4 and images.shape[0] == n and images.shape[3] in (1, 3)):
        raise ValueError("images")
    if not (latents.dtype == np.float32 and latents.ndim == 2 and n > 0 and np.isfinite(latents).all()):
        raise ValueError("latents")
    if not (embedding.dtype == np.float32 and embedding.shape == (n, 2) and np.isfinite(embedding).all()):
        raise ValueError("embedding")
    if not (first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] in (1, 3)):
        raise ValueError("first image")
    optional = {k: arrays.get(k) for k in OPTIONAL}
    if optional["logvars"] is not None and optional["logvars"].shape != latents.shape:
        raise ValueError("logvars")
    names = {k: _names(info.get(k, [])) for k in ("label_names", "condition_names", "attribute_names")}
    labels = optional["labels"]
    if labels is not None and not (labels.dtype == np.int64 and labels.shape == (n,)
                                   and labels.min() >= -1 and labels.max() < len(names["label_names"])):
        raise ValueError("labels")
    for key, names_key in (("conditions", "condition_names"), ("attributes", "attribute_names")):
        a = optional[key]
        if a is not None and not (a.dtype == np.float32 and a.shape == (n, len(names[names_key]))
                                  and np.isfinite(a).all()):
            raise ValueError(key)
    start = info.get("start_index")
    if not isinstance(start, int) or not 0 <= start < n:
        raise ValueError("start_index")
    return CachedMap(sha256, images, latents, embedding, first, start, optional["logvars"], labels,
                     names["label_names"], optional["conditions"], names["condition_names"],
                     optional["attributes"], names["attribute_names"], _text(info.get("source_note", "")),
                     projection, _text(info.get("title", "")), _text(info.get("data_refused", "")) or None)


def _names(value) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_NAMES or not all(isinstance(v, str) for v in value):
        raise ValueError("names")
    return [v[:MAX_NAME_CHARS] for v in value]


def _text(value) -> str:
    if not isinstance(value, str):
        raise ValueError("text")
    return value[:500]


def write_cached(loaded, sha256: str, split: str, limit: int, first_image: np.ndarray) -> Path | None:
    """After a successful load (on the load job's thread). A cache that cannot be written is skipped."""
    from safetensors.numpy import save

    from latent_atlas.models.checkpoints.atomic_io import atomic_write_bytes

    projection = loaded.projection.method if loaded.projection is not None else ""
    if projection != "pca" or loaded.embedding is None:
        return None                      # t-SNE/UMAP maps are refitted on demand; the start-up map is PCA
    arrays = {"images": np.ascontiguousarray(loaded.images, np.uint8),
              "latents": np.ascontiguousarray(loaded.latents, np.float32),
              "embedding": np.ascontiguousarray(loaded.embedding, np.float32),
              "first_image": np.ascontiguousarray(first_image, np.uint8)}
    for key in OPTIONAL:
        value = getattr(loaded, key)
        if value is not None:
            arrays[key] = np.ascontiguousarray(value, np.int64 if key == "labels" else np.float32)
    info = {"sha256": sha256, "projection": projection, "start_index": int(loaded.start_index),
            "label_names": list(loaded.label_names), "condition_names": list(loaded.condition_names),
            "attribute_names": list(loaded.attribute_names), "source_note": loaded.source_note,
            "title": f"{projection.upper()} of {loaded.source_note}", "data_refused": loaded.data_refused or ""}
    data = save(arrays, metadata={"version": CACHE_VERSION, "info": json.dumps(info)})
    if len(data) > MAX_FILE_BYTES:
        return None
    path = cache_path(sha256, split, limit, projection)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        trim(path.parent)
    except OSError:
        return None
    return path


def trim(folder: Path) -> None:
    """The newest files up to MAX_FOLDER_BYTES stay (maps and projection fits, editor/core/projection_store.py)."""
    files = sorted(folder.glob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for f in files:
        total += f.stat().st_size
        if total > MAX_FOLDER_BYTES:
            f.unlink(missing_ok=True)


def forget(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
