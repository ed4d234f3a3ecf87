"""Sessions, Qt-free: one JSON file that reopens the exact view. It holds the checkpoint (path and sha256),
the base latent and where it came from, the condition, every attribute vector with its weight, the
projection and its options, and a dict of extra panel states (strip endpoints, seeds, ...) that panels
fill and read themselves. Reading checks everything before anything is changed."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latent_atlas.editor.core.recipe import file_sha256
from latent_atlas.editor.core.state import AttributeEdit, CurrentPoint, EditorState, StateSnapshot
from latent_atlas.models.checkpoints.atomic_io import atomic_write
from latent_atlas.models.checkpoints.header import parse_metadata, read_header
from latent_atlas.models.errors import LatentAtlasError

SESSION_FORMAT = "latent-atlas-session"
SESSION_VERSION = 1
MAX_SESSION_BYTES = 50_000_000


class SessionError(LatentAtlasError):
    """A session file cannot be read, written, or does not fit its checkpoint."""


@dataclass(frozen=True)
class Session:
    path: Path                     # the session file
    checkpoint: Path
    checkpoint_sha256: str | None
    latent_dim: int
    cond_dim: int
    snapshot: StateSnapshot
    projection: str = "pca"
    projection_options: dict = field(default_factory=dict)
    panels: dict = field(default_factory=dict)


def _jsonable(value) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def json_options(options: dict | None) -> dict:
    """Projection options as JSON gives them back (tuples become lists; what JSON cannot hold is left out)."""
    return json.loads(json.dumps({k: v for k, v in (options or {}).items() if _jsonable(v)}))


def make_session(state: EditorState, projection: str = "pca", projection_options: dict | None = None,
                 panels: dict | None = None) -> dict:
    """The session of what is on screen now, as a JSON-able dict."""
    loaded = state.loaded
    if loaded is None:
        raise SessionError("there is nothing to save: no model is open")
    point = state.current
    options = json_options(projection_options)
    return {
        "format": SESSION_FORMAT, "version": SESSION_VERSION,
        "checkpoint": str(Path(loaded.path).resolve()), "checkpoint_sha256": file_sha256(loaded.path),
        "latent_dim": int(loaded.model.latent_dim), "cond_dim": int(loaded.model.cond_dim or 0),
        "point": None if point is None else {
            "base": np.asarray(point.base, np.float32).tolist(),
            "cursor": None if point.cursor is None else [float(point.cursor[0]), float(point.cursor[1])],
            "data_index": point.data_index, "source": point.source},
        "condition": None if state.condition is None else np.asarray(state.condition, np.float32).tolist(),
        "vectors": [{"name": e.name, "weight": float(e.weight), "description": e.description,
                     "vector": np.asarray(e.vector, np.float32).tolist()} for e in state.edits],
        "projection": {"method": projection, "options": options},
        "panels": {k: v for k, v in (panels or {}).items() if _jsonable(v)},
    }


def write_session(path, session: dict) -> Path:
    path = Path(path)
    checkpoint = Path(session.get("checkpoint", ""))
    if checkpoint.exists() and path.resolve() == checkpoint.resolve():
        raise SessionError(f"refusing to write the session over the checkpoint {path}")
    text = json.dumps(session, indent=1, allow_nan=False)
    try:
        return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as e:
        raise SessionError(f"could not write the session {path}: {e.strerror or e}") from None


def read_session(path) -> Session:
    """Parses and checks a session file; raises SessionError naming the file and the problem."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SESSION_BYTES:
            raise SessionError(f"{path}: larger than {MAX_SESSION_BYTES} bytes; not a session file")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise SessionError(f"{path}: not a readable session file ({str(e)[:200]})") from None
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise SessionError(f"{path}: not a Latent Atlas session (format must be {SESSION_FORMAT!r})")
    if doc.get("version") != SESSION_VERSION:
        raise SessionError(f"{path}: session version {str(doc.get('version'))[:20]} is not supported "
                           f"(this program reads version {SESSION_VERSION})")
    return _parse(path, doc)


def _parse(path: Path, doc: dict) -> Session:
    def fail(problem: str):
        raise SessionError(f"{path}: {problem}")

    latent_dim, cond_dim = doc.get("latent_dim"), doc.get("cond_dim", 0)
    if not _count(latent_dim) or latent_dim < 1 or not _count(cond_dim):
        fail("latent_dim and cond_dim must be whole numbers")
    checkpoint = doc.get("checkpoint")
    if not isinstance(checkpoint, str) or not checkpoint:
        fail("no checkpoint path")
    point = doc.get("point")
    current = None
    if point is not None:
        if not isinstance(point, dict):
            fail("'point' must be an object")
        base = _numbers(path, "the base latent", point.get("base"), latent_dim)
        cursor = point.get("cursor")
        if cursor is not None and not (isinstance(cursor, list) and len(cursor) == 2
                                       and all(_finite_number(v) for v in cursor)):
            fail("the cursor must be two numbers")
        index = point.get("data_index")
        if index is not None and not _count(index):
            fail("data_index must be a whole number")
        source = point.get("source", "session")
        current = CurrentPoint(base, None if cursor is None else (float(cursor[0]), float(cursor[1])), index,
                               source if isinstance(source, str) else "session")
    condition = doc.get("condition")
    if cond_dim:
        condition = _numbers(path, "the condition", condition, cond_dim)
    elif condition is not None:
        fail("a condition is given but cond_dim is 0")
    vectors = doc.get("vectors", [])
    if not isinstance(vectors, list):
        fail("'vectors' must be a list")
    edits, names = [], set()
    for k, entry in enumerate(vectors):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or name in names:
            fail(f"vector {k + 1} needs a name of its own")
        names.add(name)
        weight = entry.get("weight", 0.0)
        if not _finite_number(weight):
            fail(f"the weight of vector {name[:40]!r} is not a finite number")
        edits.append(AttributeEdit(name, _numbers(path, f"vector {name[:40]!r}", entry.get("vector"), latent_dim),
                                   float(weight), str(entry.get("description", ""))[:500]))
    projection = doc.get("projection") or {}
    method = projection.get("method", "pca") if isinstance(projection, dict) else None
    options = projection.get("options", {}) if isinstance(projection, dict) else None
    if not isinstance(method, str) or not isinstance(options, dict):
        fail("'projection' must be {'method': name, 'options': {...}}")
    panels = doc.get("panels", {})
    if not isinstance(panels, dict):
        fail("'panels' must be an object")
    sha = doc.get("checkpoint_sha256")
    return Session(path, _find_checkpoint(path, checkpoint), sha if isinstance(sha, str) else None,
                   latent_dim, cond_dim, StateSnapshot(current, condition, tuple(edits)), method, options, panels)


def _find_checkpoint(session_path: Path, checkpoint: str) -> Path:
    """The saved path, or a file of the same name beside the session (a folder moved as a whole)."""
    saved = Path(checkpoint)
    if not saved.exists():
        beside = session_path.parent / saved.name
        if beside.is_file():
            return beside
    return saved


def check_checkpoint(session: Session) -> None:
    """Before switching models: the checkpoint exists and has the session's latent and condition sizes."""
    try:
        config = parse_metadata(read_header(session.checkpoint)["__metadata__"])["config"]
    except (LatentAtlasError, OSError, KeyError, ValueError) as e:
        raise SessionError(f"{session.path}: its checkpoint {session.checkpoint} cannot be opened ({e})") from None
    check_fits(session, int(config.get("latent_dim", -1)), int(config.get("cond_dim", 0) or 0))


def check_fits(session: Session, latent_dim: int, cond_dim: int) -> None:
    if (latent_dim, cond_dim) != (session.latent_dim, session.cond_dim):
        raise SessionError(f"{session.path}: the session is for a latent of {session.latent_dim} dimensions "
                           f"and a condition of {session.cond_dim}; the checkpoint {session.checkpoint.name} "
                           f"has {latent_dim} and {cond_dim}")


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(path: Path, what: str, value, n: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) != n or not all(_finite_number(v) for v in value):
        got = f"{len(value)} items" if isinstance(value, list) else type(value).__name__
        raise SessionError(f"{path}: {what} must be {n} finite numbers (got {got})")
    return np.asarray(value, np.float32)
