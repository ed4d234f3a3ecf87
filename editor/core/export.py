"""Exports: images (PNG, scaled), strips, GIFs, latents (.npy, .json), each with a recipe beside it.

Every write is atomic; nothing is ever written over the checkpoint or dataset files in use."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from latent_atlas.editor.core.image_convert import for_display
from latent_atlas.models.checkpoints.atomic_io import atomic_write, atomic_write_bytes
from latent_atlas.models.errors import LatentAtlasError

MAX_SCALE = 16
GIF_FRAME_MS = 120


class ExportError(LatentAtlasError):
    """An export cannot be written (a protected file, a read-only folder, a full disk)."""


def recipe_path(path: Path) -> Path:
    """strip.png -> strip.png.recipe.json: the whole name, so that the PNG and the GIF of one strip (or an
    image and its latent) exported under one name keep a recipe each."""
    path = Path(path)
    return path.with_name(path.name + ".recipe.json")


def _guard(path: Path, protected: list[Path]) -> Path:
    path = Path(path)
    resolved = path.resolve()
    for p in protected:
        if p is not None and Path(p).exists() and resolved == Path(p).resolve():
            raise ExportError(f"refusing to overwrite {path}: it is a file the editor is using")
    if not resolved.parent.is_dir():
        raise ExportError(f"cannot write {path}: folder {path.parent} does not exist")
    return path


def refuse_protected(path, protected) -> Path:
    """ExportError when writing `path` would replace a file the editor is using or its folder is missing."""
    return _guard(Path(path), list(protected))


def _guard_both(path: Path, protected: list[Path], recipe: dict | None) -> Path:
    """Check the recipe's path too before anything is written: a refused recipe must not leave an image
    without its recipe behind."""
    if recipe is not None:
        _guard(recipe_path(Path(path)), protected)
    return _guard(path, protected)


def _write(path: Path, writer) -> None:
    try:
        atomic_write(path, writer)
    except OSError as e:
        raise ExportError(f"could not write {path}: {e.strerror or e}") from None


def scaled_pil(image: np.ndarray, scale: int = 1, smooth: bool = False) -> Image.Image:
    """(H, W, C) uint8 -> PIL image enlarged `scale` times, nearest (crisp pixels) or smooth (bicubic)."""
    if not 1 <= int(scale) <= MAX_SCALE:
        raise ExportError(f"scale must be within 1..{MAX_SCALE}, got {scale}")
    img = Image.fromarray(for_display(image))
    if scale > 1:
        method = Image.Resampling.BICUBIC if smooth else Image.Resampling.NEAREST
        img = img.resize((img.width * scale, img.height * scale), method)
    return img


def export_png(path, image: np.ndarray, *, scale: int = 1, smooth: bool = False, recipe: dict | None = None,
               protected: list[Path] = ()) -> Path:
    path = _guard_both(Path(path), list(protected), recipe)
    img = scaled_pil(image, scale, smooth)
    _write(path, lambda tmp: img.save(tmp, format="PNG"))
    if recipe is not None:
        write_recipe(recipe_path(path), recipe, protected)
    return path


def export_gif(path, frames: np.ndarray, *, scale: int = 1, frame_ms: int = GIF_FRAME_MS, bounce: bool = True,
               recipe: dict | None = None, protected: list[Path] = ()) -> Path:
    """frames (B, H, W, C) uint8 -> an animated GIF that loops (forth and back when bounce)."""
    path = _guard_both(Path(path), list(protected), recipe)
    imgs = [scaled_pil(f, scale) for f in frames]
    if bounce and len(imgs) > 2:
        imgs = imgs + imgs[-2:0:-1]
    _write(path, lambda tmp: imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:],
                                          duration=frame_ms, loop=0))
    if recipe is not None:
        write_recipe(recipe_path(path), recipe, protected)
    return path


def export_latent(path, latent: np.ndarray, *, recipe: dict | None = None, protected: list[Path] = ()) -> Path:
    """.npy (float32 array) or .json (the recipe itself, which holds the latent)."""
    path = _guard_both(Path(path), list(protected), None if Path(path).suffix.lower() == ".json" else recipe)
    latent = np.asarray(latent, np.float32)
    if path.suffix.lower() == ".json":
        write_recipe(path, recipe or {"latent": latent.tolist()}, protected)
        return path

    def save_npy(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, latent, allow_pickle=False)

    _write(path, save_npy)
    if recipe is not None:
        write_recipe(recipe_path(path), recipe, protected)
    return path


def write_recipe(path, recipe: dict, protected: list[Path] = ()) -> Path:
    path = _guard(Path(path), list(protected))
    try:
        atomic_write_bytes(path, json.dumps(recipe, indent=1).encode("utf-8"))
    except OSError as e:
        raise ExportError(f"could not write {path}: {e.strerror or e}") from None
    return path


def read_latent_npy(path) -> np.ndarray:
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ExportError(f"{path}: not a latent .npy file ({e})") from None
    return np.asarray(z, np.float32)
