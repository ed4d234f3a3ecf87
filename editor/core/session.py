"""Sessions, Qt-free: one JSON file that reopens the exact view. It holds the checkpoint (path and sha256),
the base latent and where it came from, the condition, every attribute vector with its weight, the
projection and its options, and a dict of extra panel states (strip endpoints, seeds, ...) that panels
fill and read themselves. Reading checks everything before anything is changed."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latent_atlas.editor.core.recipe import MODULE_SCHEMA, module_message, module_record
from latent_atlas.editor.core.state import AttributeEdit, CurrentPoint, EditorState, StateSnapshot
from latent_atlas.models.checkpoints.atomic_io import atomic_write
from latent_atlas.models.checkpoints.header import MAX_VECTOR_NAME, MAX_VECTORS, parse_metadata, read_header
from latent_atlas.models.errors import LatentAtlasError
from latent_atlas.models.file_schema import (
    Anything,
    Bool,
    Choice,
    Float,
    Int,
    List,
    Numbers,
    Obj,
    Optional,
    SchemaProblem,
    Str,
)
from latent_atlas.models.safe_files import MAX_PATH_CHARS, read_json, recorded_path, same_path, shown

SESSION_FORMAT = "latent-atlas-session"
SESSION_VERSION = 1
MAX_SESSION_BYTES = 50_000_000
MAX_LATENT = 4096           # numbers in a latent (configs allow at most 1024)
LATENT_BOUND = 1e6          # what the interpolation panel accepts for a waypoint; float32 holds it exactly
MAX_WAYPOINTS = 1000

_latent = Numbers(max_len=MAX_LATENT, bound=LATENT_BOUND)
_neighbour_options = {"max_points": Optional(Int(2, 10_000_000)), "random_state": Int(0, 2**32 - 1),
                      "k": Int(1, 1000), "in_subprocess": Bool()}
# each projection's options, as its constructor takes them (unknown keys are dropped)
PROJECTION_OPTIONS = {
    "pca": Obj({"components": List(Int(0, MAX_LATENT), max_len=2, min_len=2), "keep_residual": Bool()}),
    "tsne": Obj({"perplexity": Float(1.0, 10_000.0), "max_iter": Int(250, 1_000_000), **_neighbour_options}),
    "umap": Obj({"n_neighbors": Int(2, 10_000), "min_dist": Float(0.0, 100.0), **_neighbour_options}),
    "identity": Obj({}),
}
SESSION_SCHEMA = Obj({
    "format": Choice((SESSION_FORMAT,)),
    "version": Choice((SESSION_VERSION,)),
    "checkpoint": Str(max_len=MAX_PATH_CHARS),
    "checkpoint_sha256": Optional(Str(max_len=64)),
    "module": Optional(MODULE_SCHEMA),
    "latent_dim": Int(1, MAX_LATENT),
    "cond_dim": Int(0, MAX_LATENT),
    "point": Optional(Obj({"base": _latent, "cursor": Optional(Numbers(min_len=2, max_len=2, bound=1e12)),
                           "data_index": Optional(Int(0, 2**31 - 1)), "source": Str(max_len=40)},
                          required=("base",))),
    "condition": Optional(Numbers(max_len=MAX_LATENT, bound=1e3)),
    "vectors": List(Obj({"name": Str(max_len=MAX_VECTOR_NAME), "weight": Float(-1e3, 1e3),
                         "description": Str(max_len=2000, min_len=0, cut=True), "vector": _latent},
                        required=("name", "vector"), defaults={"weight": 0.0, "description": ""}),
                    max_len=MAX_VECTORS),
    "projection": Obj({"method": Choice(tuple(PROJECTION_OPTIONS)), "options": Anything()},
                      defaults={"method": "pca"}),
    # what the panels restore: checked here, so that a restore never meets a type it does not expect
    "panels": Obj({
        "attributes": Obj({"picked": Optional(Str(max_len=MAX_VECTOR_NAME))}),
        "condition": Obj({"seed": Int(0, 2**31 - 1)}),
        "interpolation": Obj({"waypoints": List(_latent, max_len=MAX_WAYPOINTS), "frames": Int(2, 32),
                              "mode": Choice(("slerp", "lerp"))}),
    }),
}, required=("format", "version", "checkpoint", "latent_dim"),
    defaults={"cond_dim": 0, "vectors": [], "projection": {"method": "pca", "options": {}}, "panels": {}})


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
    module: dict | None = None     # a user's own module the session was made on (recipe.MODULE_SCHEMA)


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
        "checkpoint": str(Path(loaded.path).resolve()), "checkpoint_sha256": loaded.sha256,
        **({"module": module_record(loaded.origin)} if loaded.origin is not None else {}),
        "latent_dim": loaded.info.latent_dim, "cond_dim": loaded.info.cond_dim,
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
    """Parses and checks a session file against SESSION_SCHEMA, then against itself (sizes, unique
    names); raises SessionError naming the file, the field and the problem. Nothing is applied here."""
    path = Path(path)
    doc = read_json(path, MAX_SESSION_BYTES, SessionError, "session file")
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise SessionError(f"{shown(path)}: not a Latent Atlas session (format must be {SESSION_FORMAT!r})")
    if doc.get("version") != SESSION_VERSION:
        found = doc.get("version")
        raise SessionError(f"{shown(path)}: session version {str(found)[:20]!r}"
                           f"{' (a string)' if isinstance(found, str) else ''} is not supported (this program "
                           f"reads version {SESSION_VERSION}, written as a number)")
    try:
        return _parse(path, SESSION_SCHEMA.check(doc, ""), doc.get("panels", {}))
    except SchemaProblem as e:
        raise SessionError(f"{shown(path)}: {e}") from None


def _parse(path: Path, doc: dict, panels: dict) -> Session:
    """`doc` is the checked session; `panels` the file's own panel states (as JSON, which panels read)."""
    latent_dim, cond_dim = doc["latent_dim"], doc["cond_dim"]

    def sized(where: str, array, n: int, what: str):
        if array is not None and len(array) != n:
            raise SchemaProblem(where, f"has {len(array)} numbers, the session's {what} has {n}")
        return array

    point, current = doc.get("point"), None
    if point is not None:
        base = sized("point.base", point["base"], latent_dim, "latent_dim")
        cursor = point.get("cursor")
        current = CurrentPoint(base, None if cursor is None else (float(cursor[0]), float(cursor[1])),
                               point.get("data_index"), point.get("source", "session"))
    condition = doc.get("condition")
    if cond_dim and condition is None:
        raise SchemaProblem("condition", f"is missing; the session's cond_dim is {cond_dim}")
    if not cond_dim and condition is not None:
        raise SchemaProblem("condition", "is given but cond_dim is 0")
    sized("condition", condition, cond_dim, "cond_dim")
    edits, names = [], set()
    for k, entry in enumerate(doc["vectors"]):
        if entry["name"] in names:
            raise SchemaProblem(f"vectors[{k}].name", f"{entry['name'][:40]!r} is the name of an earlier vector")
        names.add(entry["name"])
        edits.append(AttributeEdit(entry["name"], sized(f"vectors[{k}].vector", entry["vector"], latent_dim,
                                                        "latent_dim"), entry["weight"], entry["description"]))
    projection = doc["projection"]
    method = projection["method"]
    options = PROJECTION_OPTIONS[method].check(projection.get("options", {}), "projection.options")
    for k, z in enumerate(doc["panels"].get("interpolation", {}).get("waypoints") or []):
        sized(f"panels.interpolation.waypoints[{k}]", z, latent_dim, "latent_dim")
    module = doc.get("module")
    checkpoint = Path(doc["checkpoint"]) if module else _find_checkpoint(path, doc["checkpoint"])
    return Session(path, checkpoint, doc.get("checkpoint_sha256"), latent_dim, cond_dim,
                   StateSnapshot(current, condition, tuple(edits)), method, options, panels, module)


def made_on(session: Session, loaded) -> bool:
    """Whether `loaded` is what the session was made on: the same checkpoint file, or for a user's module
    the same weights (by sha256). SessionError, saying which module to open, when it needs one not open."""
    if session.module is None:
        return loaded is not None and not loaded.is_module and same_path(loaded.path, session.checkpoint)
    if loaded is not None and loaded.is_module and loaded.sha256 == session.module["weights_sha256"]:
        return True
    raise SessionError(module_message(shown(session.path), session.module))


def _find_checkpoint(session_path: Path, checkpoint: str) -> Path:
    """The saved path (a relative one is relative to the session's folder), or a file of the same name
    beside the session (a folder moved as a whole)."""
    try:
        saved = recorded_path(checkpoint, session_path, SessionError, "checkpoint")
    except SessionError as e:
        raise SchemaProblem("checkpoint", str(e)) from None
    try:
        if not saved.exists():
            beside = session_path.parent / saved.name
            if beside.is_file():
                return beside
    except OSError:          # a path the OS cannot even look up is reported when the checkpoint is opened
        pass
    return saved


def check_checkpoint(session: Session) -> None:
    """Before switching models: the checkpoint exists and has the session's latent and condition sizes."""
    try:
        config = parse_metadata(read_header(session.checkpoint)["__metadata__"])["config"]
    except (LatentAtlasError, OSError, KeyError, ValueError) as e:
        raise SessionError(f"{shown(session.path)}: its checkpoint cannot be opened: {e}") from None
    dims = config.get("latent_dim", -1), config.get("cond_dim", 0) or 0
    if not all(type(d) is int for d in dims):
        raise SessionError(f"{shown(session.path)}: its checkpoint {shown(session.checkpoint)} has no "
                           "whole-number latent_dim / cond_dim in its config")
    check_fits(session, *dims)


def check_fits(session: Session, latent_dim: int, cond_dim: int, n_points: int | None = None) -> None:
    """The session fits the open model: its sizes, and (given the map's point count) its data point."""
    if (latent_dim, cond_dim) != (session.latent_dim, session.cond_dim):
        raise SessionError(f"{shown(session.path)}: the session is for a latent of {session.latent_dim} "
                           f"dimensions and a condition of {session.cond_dim}; the checkpoint "
                           f"{session.checkpoint.name} has {latent_dim} and {cond_dim}")
    point = session.snapshot.current
    if n_points is not None and point is not None and point.data_index is not None \
            and point.data_index >= n_points:
        raise SessionError(f"{shown(session.path)}: point.data_index {point.data_index} is past the "
                           f"{n_points} points on the map of {session.checkpoint.name}")
