"""A recipe is the JSON that reproduces an exported image: checkpoint (and its hash), latent, condition,
edits. `latent-atlas render RECIPE.json --out image.png` decodes it again, bit for bit on the same machine."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from latent_atlas.models.errors import LatentAtlasError

RECIPE_FORMAT = "latent-atlas-recipe"
MAX_RECIPE_BYTES = 20_000_000


class RecipeError(LatentAtlasError):
    """A recipe file cannot be read or does not fit its checkpoint."""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_recipe(checkpoint: Path, latent: np.ndarray, condition: np.ndarray | None, *, base=None,
                edits: list | None = None, frames: np.ndarray | None = None, scale: int = 1,
                smooth: bool = False, note: str = "") -> dict:
    recipe = {"format": RECIPE_FORMAT, "version": 1, "checkpoint": str(Path(checkpoint).resolve()),
              "checkpoint_sha256": file_sha256(checkpoint),
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
    return recipe


def read_recipe(path: str | Path) -> dict:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_RECIPE_BYTES:
            raise RecipeError(f"{path}: recipe larger than {MAX_RECIPE_BYTES} bytes")
        recipe = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecipeError(f"{path}: not a readable recipe ({e})") from None
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"{path}: not a Latent Atlas recipe (format must be {RECIPE_FORMAT!r})")
    for key in ("checkpoint", "latent"):
        if key not in recipe:
            raise RecipeError(f"{path}: recipe has no {key!r}")
    return recipe


def recipe_arrays(recipe: dict, path, latent_dim: int, cond_dim: int):
    """(latents (B, D), condition (C,) or None) checked against the model's sizes."""
    try:
        z = np.asarray(recipe.get("frames", [recipe["latent"]]), np.float32)
        c = None if recipe.get("condition") is None else np.asarray(recipe["condition"], np.float32)
    except (TypeError, ValueError) as e:
        raise RecipeError(f"{path}: latent or condition is not a list of numbers ({e})") from None
    if z.ndim != 2 or z.shape[1] != latent_dim or not np.isfinite(z).all():
        raise RecipeError(f"{path}: latent must be {latent_dim} finite numbers, got shape {z.shape}")
    if cond_dim and (c is None or c.shape != (cond_dim,)):
        raise RecipeError(f"{path}: the model needs a condition of {cond_dim} numbers")
    return z, (c if cond_dim else None)
