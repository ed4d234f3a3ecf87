"""Attribute vectors, Qt-free: which attributes the open data offers, the vector of each
(mean latent with the attribute minus mean latent without), files of vectors, orthogonalising, cosines.

A vector file is JSON (names, vectors as lists, descriptions, latent_dim, the checkpoint's sha256), or a
bare .npy of shape (D,) or (K, D) for vectors made with other tools (a .npy keeps no names).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latent_atlas.editor.core.bundled import RESOURCES
from latent_atlas.editor.core.state import AttributeEdit, unique_name  # noqa: F401  (panels call attrs.unique_name)
from latent_atlas.models.checkpoints.atomic_io import atomic_write
from latent_atlas.models.checkpoints.checkpoint import save_vectors
from latent_atlas.models.checkpoints.header import MAX_VECTOR_NAME, MAX_VECTORS
from latent_atlas.models.errors import CheckpointError, LatentAtlasError
from latent_atlas.models.file_schema import (
    FLOAT32_MAX,
    Choice,
    Int,
    List,
    Numbers,
    Obj,
    Optional,
    SchemaProblem,
    Str,
)
from latent_atlas.models.latent import latent_math
from latent_atlas.models.safe_files import parse_json, read_capped, shown

VECTORS_FORMAT = "latent-atlas-vectors"
MAX_VECTOR_FILE_BYTES = 50_000_000
MAX_DESCRIPTION = 2000      # characters of a vector's description kept (free text: longer is cut, not refused)
NPY_MAGIC = b"\x93NUMPY"
VECTOR_FILE_SCHEMA = Obj({
    "format": Choice((VECTORS_FORMAT,)),
    "version": Choice((1,)),
    "latent_dim": Int(1, 4096),
    "checkpoint_sha256": Optional(Str(max_len=64)),
    "vectors": List(Obj({"name": Str(max_len=MAX_VECTOR_NAME),
                         "description": Str(max_len=MAX_DESCRIPTION, min_len=0, cut=True),
                         "vector": Numbers(max_len=4096, bound=1e6)},
                        required=("name", "vector"), defaults={"description": ""}),
                    min_len=1, max_len=MAX_VECTORS),
}, required=("format", "latent_dim", "vectors"))


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
                          str(entry.get("description", ""))[:MAX_DESCRIPTION]) for name, entry in vectors.items()]


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
    """Reads and checks a vector file against the open model's latent size; errors name the file and the
    field. JSON files are checked against VECTOR_FILE_SCHEMA; a .npy's header is read before its data."""
    path = Path(path)
    data = read_capped(path, MAX_VECTOR_FILE_BYTES, VectorFileError, "vector file")
    if path.suffix.lower() == ".npy" or data.startswith(NPY_MAGIC):
        return _load_npy(path, data, latent_dim)
    doc = parse_json(data, path, VectorFileError, "vector file")
    if not isinstance(doc, dict) or doc.get("format") != VECTORS_FORMAT:
        raise VectorFileError(f"{shown(path)}: not a Latent Atlas vector file (format must be {VECTORS_FORMAT!r})")
    if doc.get("latent_dim") != latent_dim:
        raise VectorFileError(f"{shown(path)}: the vectors are for a latent of {str(doc.get('latent_dim'))[:20]} "
                              f"dimensions, the open model's latent has {latent_dim}")
    try:
        doc = VECTOR_FILE_SCHEMA.check(doc, "")
        vectors, names = [], set()
        for k, entry in enumerate(doc["vectors"]):
            name = entry["name"]
            if not name.strip() or name in names:
                raise SchemaProblem(f"vectors[{k}].name", "needs a name of its own, not blank and not an "
                                                          f"earlier vector's ({name[:40]!r})")
            names.add(name)
            if len(entry["vector"]) != latent_dim:
                raise SchemaProblem(f"vectors[{k}].vector", f"has {len(entry['vector'])} numbers, the open "
                                                            f"model's latent has {latent_dim} dimensions")
            vectors.append(AttributeEdit(name, entry["vector"], 0.0, entry["description"]))
    except SchemaProblem as e:
        raise VectorFileError(f"{shown(path)}: {e}") from None
    return VectorFile(vectors, doc.get("checkpoint_sha256"))


def _load_npy(path: Path, data: bytes, latent_dim: int) -> VectorFile:
    """A (D,) or (K, D) array of real numbers; the header is checked against the bytes that follow it
    before the array is made, so a header claiming 10^12 rows costs nothing. Never unpickles."""
    def fail(problem: str):
        raise VectorFileError(f"{shown(path)}: {problem}")

    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            fail(f"a .npy file of format version {version[0]}.{version[1]}, which is not read (1.0, 2.0 are)")
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(f)
    except (ValueError, EOFError, TypeError, SyntaxError, OverflowError) as e:
        fail(f"not a .npy array file ({str(e)[:120]})")
    if dtype.hasobject or dtype.kind not in "fiu" or dtype.fields is not None:
        fail(f"the array holds {dtype} values; a vector file holds real numbers (float or int)")
    if len(shape) not in (1, 2):
        fail(f"expected an array (D,) or (K, D), got shape {shape}")
    rows, dim = (1, shape[0]) if len(shape) == 1 else shape
    if dim != latent_dim:
        fail(f"the vectors have {dim} numbers (shape {shape}), the open model's latent has {latent_dim}")
    if not 1 <= rows <= MAX_VECTORS:
        fail(f"the array holds {rows:,} vectors; expected 1..{MAX_VECTORS:,}")
    count, offset = rows * dim, f.tell()
    if len(data) - offset != count * dtype.itemsize:
        fail(f"its header says {shape} of {dtype} ({count * dtype.itemsize:,} bytes) but "
             f"{len(data) - offset:,} bytes follow it (truncated or padded)")
    array = np.frombuffer(data, dtype, count, offset).astype(np.float64)
    array = (array.reshape(shape[::-1]).T if fortran else array.reshape(shape)).reshape(rows, dim)
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1) | (np.abs(array) > FLOAT32_MAX).any(axis=1))
    if len(bad):
        fail(f"row {bad[0]} has NaN, infinite or out-of-float32-range values")
    vectors = list(array.astype(np.float32))
    names = [path.stem] if len(vectors) == 1 else [f"{path.stem} {k + 1}" for k in range(len(vectors))]
    return VectorFile([AttributeEdit(n[:MAX_VECTOR_NAME], v, 0.0, f"from {path.name}"[:500])
                       for n, v in zip(names, vectors)], None)
