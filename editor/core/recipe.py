"""A recipe is the JSON that reproduces an exported image: checkpoint (and its hash), latent, condition,
edits. `latent-atlas render RECIPE.json --out image.png` decodes it again, bit for bit on the same machine."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from latent_atlas.editor.core.export import MAX_SCALE
from latent_atlas.models.checkpoints.header import MAX_VECTOR_NAME
from latent_atlas.models.errors import LatentAtlasError
from latent_atlas.models.file_schema import (
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
from latent_atlas.models.safe_files import MAX_PATH_CHARS, read_json, recorded_path, shown

RECIPE_FORMAT = "latent-atlas-recipe"
MAX_RECIPE_BYTES = 20_000_000
MAX_FRAMES = 256        # the editor's strips hold at most 32; a render of more is a hostile file, not a strip
MAX_LATENT = 4096       # numbers in a latent (the configs allow at most 1024)
LATENT_BOUND = 1e4      # latents are N(0, I) draws and posterior means: |z| of 10^4 decodes to nothing useful
CONDITION_BOUND = 100.0 # conditions are one-hot classes or 0/1 attributes; beyond this the image is noise
MAX_EDITS = 1024

_latent = Numbers(max_len=MAX_LATENT, bound=LATENT_BOUND)
# a user's own module (latent_atlas.view, --module): what it was, never anything that is run from the file
MODULE_SCHEMA = Obj({"module": Str(max_len=2000), "file": Optional(Str(max_len=MAX_PATH_CHARS)),
                     "weights": Optional(Str(max_len=MAX_PATH_CHARS)), "weights_sha256": Str(max_len=64)},
                    required=("module", "weights_sha256"))
MODULE_KEYS = ("module", "file", "weights", "weights_sha256")
# an exported map view (editor/files/export_actions.py): the projection and its options (as Projection.params
# gives them), the range in map units (float64: float32 would move the view), the colour, the plot's size
_projection_params = Obj({
    "components": List(Int(0, MAX_LATENT), min_len=2, max_len=2), "keep_residual": Bool(),
    "perplexity": Float(1e-3, 1e5), "max_points": Optional(Int(3, 10**9)), "random_state": Int(),
    "max_iter": Int(1, 10**7), "k": Int(1, 10**4), "n_neighbors": Int(2, 10**6), "min_dist": Float(0.0, 1e3)})
MAP_VIEW_SCHEMA = Obj({"method": Choice(("pca", "tsne", "umap", "identity")), "params": _projection_params,
                       "range": List(Float(-1e30, 1e30), min_len=4, max_len=4), "colour_by": Int(-1, 10**6),
                       "size": List(Int(1, 10**6), min_len=2, max_len=2), "points": Int(0, 10**9),
                       "fit_key": Str(max_len=64), "cursor": Optional(List(Float(-1e30, 1e30), min_len=2, max_len=2))},
                      required=("method", "params", "range"),
                      defaults={"colour_by": -1})
RECIPE_SCHEMA = Obj({
    "format": Choice((RECIPE_FORMAT,)),
    "version": Choice((1,)),
    "checkpoint": Str(max_len=MAX_PATH_CHARS),
    "checkpoint_sha256": Optional(Str(max_len=64)),
    "latent": _latent,
    "condition": Optional(Numbers(max_len=MAX_LATENT, bound=CONDITION_BOUND)),
    "base": Optional(_latent),
    "edits": List(Obj({"name": Str(max_len=MAX_VECTOR_NAME), "weight": Float(-1e3, 1e3), "vector": _latent},
                      required=("vector",)), max_len=MAX_EDITS),
    "frames": List(_latent, max_len=MAX_FRAMES, min_len=1),
    "scale": Int(1, MAX_SCALE),
    "smooth": Bool(),
    "note": Str(max_len=10_000, min_len=0),
    "module": Optional(MODULE_SCHEMA),
    "gif": Optional(Obj({"frame_ms": Int(10, 60_000), "bounce": Bool()})),   # how a GIF export played
    "map_view": Optional(MAP_VIEW_SCHEMA),
}, required=("format", "checkpoint", "latent"), defaults={"version": 1, "scale": 1, "smooth": False})


class RecipeError(LatentAtlasError):
    """A recipe file cannot be read or does not fit its checkpoint."""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def module_record(origin: dict | None) -> dict | None:
    """What a recipe or session keeps of a user's module (LoadedModel.origin)."""
    return None if origin is None else {k: origin.get(k) for k in MODULE_KEYS}


def module_message(where: str, module: dict) -> str:
    """The clear word for a recipe or session made on a user's module, opened without it."""
    weights = f" --weights {module['weights']}" if module.get("weights") else ""
    return (f"{where}: made with your own module {module['module']} (weights sha256 "
            f"{module['weights_sha256'][:12]}…), not a checkpoint file: open that module first "
            f"(latent_atlas.view(...) or latent-atlas --module FILE.py:FACTORY{weights})")


def make_recipe(checkpoint: Path, latent: np.ndarray, condition: np.ndarray | None, *, base=None,
                edits: list | None = None, frames: np.ndarray | None = None, scale: int = 1,
                smooth: bool = False, note: str = "", module: dict | None = None,
                gif: dict | None = None) -> dict:
    """module: LoadedModel.origin of a user's module; the recipe then records it and its weights' sha256."""
    recipe = {"format": RECIPE_FORMAT, "version": 1, "checkpoint": str(Path(checkpoint).resolve()),
              "checkpoint_sha256": module["weights_sha256"] if module else file_sha256(checkpoint),
              "latent": np.asarray(latent, np.float32).tolist(), "scale": int(scale), "smooth": bool(smooth)}
    if condition is not None:
        recipe["condition"] = np.asarray(condition, np.float32).tolist()
    if base is not None:
        recipe["base"] = np.asarray(base, np.float32).tolist()
    if edits:
        recipe["edits"] = [{"name": e.name, "weight": float(e.weight),
                            "vector": np.asarray(e.vector, np.float32).tolist()} for e in edits]
    if frames is not None:
        recipe["frames"] = np.asarray(frames, np.float32).tolist()
    if note:
        recipe["note"] = note
    if module:
        recipe["module"] = module_record(module)
    if gif:
        recipe["gif"] = {"frame_ms": int(gif["frame_ms"]), "bounce": bool(gif["bounce"])}
    return recipe


def read_recipe(path: str | Path) -> dict:
    """The recipe, checked against RECIPE_SCHEMA before any field is used: numbers as float32 arrays,
    the checkpoint path resolved against the recipe's own folder. RecipeError names the file and field."""
    path = Path(path)
    try:
        doc = read_json(path, MAX_RECIPE_BYTES, RecipeError, "recipe")
        if not isinstance(doc, dict) or doc.get("format") != RECIPE_FORMAT:
            raise RecipeError(f"{shown(path)}: not a Latent Atlas recipe (format must be {RECIPE_FORMAT!r})")
        recipe = RECIPE_SCHEMA.check(doc, "")
    except SchemaProblem as e:
        raise RecipeError(f"{shown(path)}: {e}") from None
    if "frames" in recipe and len({len(f) for f in recipe["frames"]}) != 1:
        raise RecipeError(f"{shown(path)}: frames: every frame must have as many numbers as the first")
    try:
        recipe["checkpoint"] = str(recorded_path(recipe["checkpoint"], path, RecipeError, "checkpoint"))
    except RecipeError as e:
        raise RecipeError(f"{shown(path)}: checkpoint: {e}") from None
    return recipe


def recipe_arrays(recipe: dict, path, latent_dim: int, cond_dim: int):
    """(latents (B, D), condition (C,) or None) checked against the model's sizes."""
    z = np.stack(recipe["frames"]) if recipe.get("frames") else np.asarray(recipe["latent"], np.float32)[None]
    c = recipe.get("condition")
    if z.shape[1] != latent_dim:
        raise RecipeError(f"{shown(path)}: the latent has {z.shape[1]} numbers, the model's latent has "
                          f"{latent_dim}")
    if cond_dim and (c is None or c.shape != (cond_dim,)):
        raise RecipeError(f"{shown(path)}: the model needs a condition of {cond_dim} numbers")
    return z, (np.asarray(c, np.float32) if cond_dim else None)
