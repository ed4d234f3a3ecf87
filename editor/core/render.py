"""Render a recipe headless: the command line's `render`, and the proof that exports reproduce."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from latent_atlas.editor.core.export import export_png
from latent_atlas.editor.core.image_convert import images_to_hwc_uint8, strip
from latent_atlas.editor.core.recipe import RecipeError, file_sha256, read_recipe, recipe_arrays
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint


@torch.inference_mode()
def render_images(recipe: dict, recipe_file, checkpoint: str | None = None) -> np.ndarray:
    """(B, H, W, C) uint8 decoded from the recipe's latent (or frames)."""
    ckpt_path = Path(checkpoint or recipe["checkpoint"])
    if not ckpt_path.is_file():
        raise RecipeError(f"{recipe_file}: its checkpoint {ckpt_path} does not exist (use --checkpoint)")
    if checkpoint is None and recipe.get("checkpoint_sha256") not in (None, file_sha256(ckpt_path)):
        print(f"warning: {ckpt_path} changed since the recipe was written; the image may differ",
              file=sys.stderr)
    model = load_checkpoint(ckpt_path).model
    z, c = recipe_arrays(recipe, recipe_file, model.latent_dim, model.cond_dim)
    return images_to_hwc_uint8(model.decode(torch.from_numpy(z), None if c is None else torch.from_numpy(c)))


def render_recipe(recipe_file, out, checkpoint: str | None = None) -> Path:
    recipe = read_recipe(recipe_file)
    images = render_images(recipe, recipe_file, checkpoint)
    image = images[0] if len(images) == 1 else strip(images)
    scale = int(recipe.get("scale", 1)) if isinstance(recipe.get("scale", 1), int) else 1
    return export_png(out, image, scale=max(1, min(16, scale)), smooth=bool(recipe.get("smooth", False)),
                      protected=[Path(recipe_file), Path(checkpoint or recipe["checkpoint"])])
