"""Attribute vectors, Qt-free: which attributes the open data offers, the vector of each
(mean latent with the attribute minus mean latent without), files of vectors, orthogonalising, cosines.

A vector file is JSON (names, vectors as lists, descriptions, latent_dim, the checkpoint's sha256), or a
bare .npy of shape (D,) or (K, D) for vectors made with other tools (a .npy keeps no names).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latent_atlas.editor.core.bundled import RESOURCES
from latent_atlas.editor.core.state import AttributeEdit
from latent_atlas.models.checkpoints.atomic_io import atomic_write
from latent_atlas.models.checkpoints.checkpoint import save_vectors
from latent_atlas.models.errors import CheckpointError, LatentAtlasError
from latent_atlas.models.latent import latent_math

VECTORS_FORMAT = "latent-atlas-vectors"
MAX_VECTOR_FILE_BYTES = 50_000_000


class VectorFileError(LatentAtlasError):
    """A file of attribute vectors cannot be read, does not fit the open model, or cannot be written."""


@dataclass(frozen=True)
class AttributeCandidate:
    name: str          # the vector's name: a class name or an attribute column
    label: str         # what the user picks: "T-shirt/top vs rest", "large vs not large"
    source: str        # "label" or "attribute"
    index: int         # class index or attribute column
    count: int         # latents with the attribute (the rest are without)


@dataclass(frozen=True)
class VectorFile:
    vectors: list[AttributeEdit]          # weights 0
    checkpoint_sha256: str | None         # the checkpoint they were computed on, when the file says


def attribute_candidates(labels: np.ndarray | None, label_names: list[str],
                         attributes: np.ndarray | None, attribute_names: list[str]) -> list[AttributeCandidate]:
    """Each class against the rest, each binary attribute against its absence; both groups non-empty."""
    out = []
    if labels is not None:
        for i, name in enumerate(label_names):
            n = int((labels == i).sum())
            if 0 < n < len(labels):
                out.append(AttributeCandidate(name, f"{name} vs rest", "label", i, n))
    if attributes is not None:
        for j, name in enumerate(attribute_names):
            n = int((attributes[:, j] > 0.5).sum())
            if 0 < n < len(attributes):
                out.append(AttributeCandidate(name, f"{name} vs not {name}", "attribute", j, n))
    return out


def candidates_for(loaded) -> list[AttributeCandidate]:
    """The candidates of a LoadedModel (none for a map of prior samples: they have no labels)."""
    return attribute_candidates(loaded.labels, loaded.label_names, loaded.attributes, loaded.attribute_names)


def candidate_mask(candidate: AttributeCandidate, labels: np.ndarray | None,
                   attributes: np.ndarray | None) -> np.ndarray:
    if candidate.source == "label":
        return np.asarray(labels) == candidate.index
    return np.asarray(attributes)[:, candidate.index] > 0.5


def vector_from_mask(latents: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(D,) float32: mean(latents[mask]) - mean(latents[~mask]). ValueError if a group is empty."""
    z = torch.from_numpy(np.asarray(latents, np.float32))
    return latent_math.attribute_vector(z, torch.from_numpy(np.asarray(mask, bool))).numpy()


def vector_from_groups(latents: np.ndarray, group_a, group_b) -> np.ndarray:
    """(D,) float32: mean latent of the points in group A minus that of group B (index arrays)."""
    a, b = np.asarray(group_a, np.int64), np.asarray(group_b, np.int64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"both groups need at least one point (A has {len(a)}, B has {len(b)})")
    z = np.concatenate([latents[a], latents[b]])
    return vector_from_mask(z, np.arange(len(z)) < len(a))


def unique_name(name: str, taken) -> str:
    taken = set(taken)
    if name not in taken:
        return name
    k = 2
    while f"{name} ({k})" in taken:
        k += 1
    return f"{name} ({k})"


def latents_with_weight(base: np.ndarray, edits: list[AttributeEdit], name: str, alphas) -> np.ndarray:
    """(B, D): the current latent with vector `name` at each weight of alphas and the others unchanged,
    summed exactly as EditorState.latent() sums, so a frame is bit for bit the image that weight gives."""
    out = []
    for alpha in alphas:
        z = np.asarray(base).astype(np.float32).copy()
        for edit in edits:
            weight = float(alpha) if edit.name == name else edit.weight
            if weight:
                z += np.float32(weight) * edit.vector.astype(np.float32)
        out.append(z)
    return np.stack(out)


def orthogonalised(vectors: list[np.ndarray], index: int) -> np.ndarray:
    """vectors[index] with its components along every other vector removed (float32 (D,))."""
    others = [torch.from_numpy(np.asarray(v, np.float32)) for i, v in enumerate(vectors) if i != index]
    v = torch.from_numpy(np.asarray(vectors[index], np.float32))
    return (latent_math.orthogonalise(v, others) if others else v.clone()).numpy()


def cosine_table(vectors: list[np.ndarray]) -> np.ndarray:
    """(K, K) cosine similarities between the vectors; 0 where one of them is zero."""
    if not vectors:
        return np.zeros((0, 0), np.float32)
    return latent_math.cosine_matrix(torch.from_numpy(np.stack(vectors).astype(np.float32))).numpy()


# -- checkpoints ----------------------------------------------------------------------------------------
def vectors_from_checkpoint(vectors: dict) -> list[AttributeEdit]:
    """Checkpoint.vectors ({name: {"vector": Tensor, "description": ...}}) as edits with weight 0."""
    return [AttributeEdit(name, entry["vector"].detach().cpu().numpy().astype(np.float32), 0.0,
                          str(entry.get("description", ""))) for name, entry in vectors.items()]


def is_bundled(path) -> bool:
    """True for files shipped in resources/: the editor never rewrites those."""
    try:
        Path(path).resolve().relative_to(RESOURCES.resolve())
        return True
    except ValueError:
        return False


def save_into_checkpoint(path, vectors: list[AttributeEdit]) -> dict:
    """Replaces the vectors stored in the checkpoint (atomically); returns what Checkpoint.vectors now holds."""
    if is_bundled(path):
        raise VectorFileError(f"{path} is a bundled model: save the vectors to a JSON or .npy file instead")
    payload = {e.name: {"vector": torch.from_numpy(np.asarray(e.vector, np.float32)),
                        "description": e.description} for e in vectors}
    try:
        save_vectors(path, payload)
    except (CheckpointError, OSError) as e:
        raise VectorFileError(f"could not save the vectors into {path}: {e}") from None
    return payload


# -- files ------------------------------------------------------------------------------------------------
def save_vectors_file(path, vectors: list[AttributeEdit], latent_dim: int,
                      checkpoint_sha256: str | None = None) -> Path:
    """JSON (everything) or .npy (the (K, D) array only); atomic."""
    path = Path(path)
    if not vectors:
        raise VectorFileError(f"{path}: there are no vectors to save")
    if path.suffix.lower() == ".npy":
        array = np.stack([np.asarray(e.vector, np.float32) for e in vectors])

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.save(f, array)
    else:
        doc = {"format": VECTORS_FORMAT, "version": 1, "latent_dim": int(latent_dim),
               "checkpoint_sha256": checkpoint_sha256,
               "vectors": [{"name": e.name, "description": e.description,
                            "vector": np.asarray(e.vector, np.float32).tolist()} for e in vectors]}
        text = json.dumps(doc, indent=1)

        def write(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")
    try:
        return atomic_write(path, write)
    except OSError as e:
        raise VectorFileError(f"could not write {path}: {e.strerror or e}") from None


def load_vectors_file(path, latent_dim: int) -> VectorFile:
    """Reads and checks a vector file against the open model's latent size; errors name the file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_VECTOR_FILE_BYTES:
            raise VectorFileError(f"{path}: larger than {MAX_VECTOR_FILE_BYTES} bytes; not a vector file")
        if path.suffix.lower() == ".npy":
            return _load_npy(path, latent_dim)
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise VectorFileError(f"{path}: not a readable vector file ({str(e)[:200]})") from None
    if not isinstance(doc, dict) or doc.get("format") != VECTORS_FORMAT:
        raise VectorFileError(f"{path}: not a Latent Atlas vector file (format must be {VECTORS_FORMAT!r})")
    dim = doc.get("latent_dim")
    if dim != latent_dim:
        raise VectorFileError(f"{path}: the vectors are for a latent of {dim} dimensions, the open model's "
                              f"latent has {latent_dim}")
    entries = doc.get("vectors")
    if not isinstance(entries, list) or not entries:
        raise VectorFileError(f"{path}: 'vectors' must be a non-empty list")
    vectors, names = [], set()
    for k, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip() or name in names:
            raise VectorFileError(f"{path}: vector {k + 1} needs a name of its own, got {str(name)[:40]!r}")
        names.add(name)
        vector = _checked_vector(path, f"vector {name[:40]!r}", entry.get("vector"), latent_dim)
        vectors.append(AttributeEdit(name, vector, 0.0, str(entry.get("description", ""))[:500]))
    sha = doc.get("checkpoint_sha256")
    return VectorFile(vectors, sha if isinstance(sha, str) else None)


def _load_npy(path: Path, latent_dim: int) -> VectorFile:
    array = np.load(path, allow_pickle=False)       # never unpickle a file someone handed us
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise VectorFileError(f"{path}: expected an array (D,) or (K, D), got shape {array.shape}")
    vectors = [_checked_vector(path, f"row {k}", row, latent_dim) for k, row in enumerate(array)]
    names = [path.stem] if len(vectors) == 1 else [f"{path.stem} {k + 1}" for k in range(len(vectors))]
    return VectorFile([AttributeEdit(n, v, 0.0, f"from {path.name}") for n, v in zip(names, vectors)], None)


def _checked_vector(path: Path, what: str, value, latent_dim: int) -> np.ndarray:
    try:
        vector = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise VectorFileError(f"{path}: {what} is not a list of numbers") from None
    if vector.shape != (latent_dim,):
        raise VectorFileError(f"{path}: {what} has {vector.size} numbers (shape {vector.shape}), the open "
                              f"model's latent has {latent_dim} dimensions")
    if not np.isfinite(vector).all():
        raise VectorFileError(f"{path}: {what} has NaN or infinite values")
    return vector.astype(np.float32)
