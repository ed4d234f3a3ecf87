"""Render a recipe headless: the command line's `render`, and the proof that exports reproduce."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from latent_atlas.editor.core.export import GIF_FRAME_MS, export_gif, export_png
from latent_atlas.editor.core.image_convert import images_to_hwc_uint8, strip
from latent_atlas.editor.core.recipe import (
    RecipeError,
    file_sha256,
    module_message,
    read_recipe,
    recipe_arrays,
)
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.safe_files import regular_file_size, shown

MAX_OUTPUT_PIXELS = 64_000_000     # of the written PNG, after scaling: about 190 MB of RGB


@torch.inference_mode()
def render_images(recipe: dict, recipe_file, checkpoint: str | None = None) -> np.ndarray:
    """(B, H, W, C) uint8 decoded from the recipe's latent (or frames). `recipe` is read_recipe's: its
    checkpoint path is already resolved against the recipe's folder; `checkpoint` is the user's own."""
    ckpt_path = Path(checkpoint or recipe["checkpoint"])
    if recipe.get("module") and checkpoint is None:
        raise RecipeError(module_message(shown(recipe_file), recipe["module"]))
    try:
        regular_file_size(ckpt_path, RecipeError, "checkpoint")
    except RecipeError as e:
        raise RecipeError(f"{shown(recipe_file)}: its checkpoint cannot be used: {e}"
                          + ("" if checkpoint else " (use --checkpoint)")) from None
    model = load_checkpoint(ckpt_path).model         # the header is checked before the file is hashed
    z, c = recipe_arrays(recipe, recipe_file, model.latent_dim, model.cond_dim)
    _, h, w = model.image_shape
    scale = recipe.get("scale", 1)
    if len(z) * h * w * scale * scale > MAX_OUTPUT_PIXELS:
        raise RecipeError(f"{shown(recipe_file)}: {len(z)} frames of {w}x{h} at scale {scale} would make an "
                          f"image of over {MAX_OUTPUT_PIXELS:,} pixels")
    if checkpoint is None and recipe.get("checkpoint_sha256") not in (None, file_sha256(ckpt_path)):
        print(f"warning: {ckpt_path} changed since the recipe was written; the image may differ",
              file=sys.stderr)
    return images_to_hwc_uint8(model.decode(torch.from_numpy(z), None if c is None else torch.from_numpy(c)))


def render_recipe(recipe_file, out, checkpoint: str | None = None) -> Path:
    """OUT.png: the image, or the strip of the frames side by side; OUT.gif: the frames as the GIF export
    played them (the recipe's frame time and bounce). Pixels equal the export's on the same machine."""
    recipe = read_recipe(recipe_file)
    if recipe.get("map_view"):
        raise RecipeError(map_view_message(recipe_file, recipe["map_view"]))
    images = render_images(recipe, recipe_file, checkpoint)
    protected = [Path(recipe_file), Path(checkpoint or recipe["checkpoint"])]
    if Path(out).suffix.lower() == ".gif":
        gif = recipe.get("gif") or {"frame_ms": GIF_FRAME_MS, "bounce": True}
        return export_gif(out, images, scale=recipe["scale"], frame_ms=gif["frame_ms"], bounce=gif["bounce"],
                          protected=protected)
    image = images[0] if len(images) == 1 else strip(images)
    return export_png(out, image, scale=recipe["scale"], smooth=recipe["smooth"], protected=protected)


def map_view_message(recipe_file, map_view: dict) -> str:
    """Why this Qt-free renderer draws no map view: the map is the editor's pyqtgraph drawing of every data
    point (encoded from the data set, not in the recipe). `latent-atlas render` sends such a recipe to
    editor/map/map_view_render.py, which draws it as the export did; a decode of the recipe's latent would be
    the image, not the map, so this function refuses rather than write something else under its name."""
    return (f"{shown(recipe_file)}: the recipe of a map view ({map_view['method']}), not of an image\n"
            f"`latent-atlas render` draws it with the editor's map, offscreen (editor/map/map_view_render.py)")
