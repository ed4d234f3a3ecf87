"""A folder of images; class sub-folders become labels.

Layout: each sub-folder of the root is a class (sorted by name; its images may sit at any depth below it).
Images directly in the root have no class: label -1 when class folders exist, and labels=None when there are
none. Hidden files and folders (names starting with '.') are ignored. Symlinked folders are not followed, and
a symlinked file that points outside the folder is skipped. There is no split: "test" gives the same images
as "train".

A file is an image if PIL can decode it, whatever its extension says; only files with the usual image
extensions are tried. Every file that fails is listed in ImageData.skipped with the reason, and loading goes
on. Colour handling:
- EXIF orientation is applied; an animated image gives its first frame.
- Transparency (RGBA, LA, palette with transparency) is composited onto black, the shapes' background.
- 16-bit images are scaled to 8 bits (65535 -> 255), not clipped. 32-bit integer images are read as 8-bit if
  their values fit 0..255, as 16-bit if they fit 0..65535, and stretched min..max otherwise; float images as
  0..1 if they fit, else stretched.
- CMYK, YCbCr and the rest go through PIL's conversion to RGB.
Each image is centre-cropped to a square and resized with LANCZOS. channels=None picks grayscale if every
image is grayscale (modes 1, L, LA, I, I;16, F) and RGB otherwise.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from latent_atlas.models.data.attributes import match_attributes
from latent_atlas.models.data.image_data import ImageData, convert_channels, square_resize
from latent_atlas.models.errors import DatasetError
from latent_atlas.models.safe_files import kind_of, open_regular

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_DEPTH = 32            # folders below a class folder; deeper ones are listed as skipped
MAX_FOLDERS = 100_000     # folders in all below one class folder
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


class BadImage(Exception):
    """One file cannot be used; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Candidate:
    rel: str      # path relative to the folder, '/' separators: the name users see in reports
    path: Path
    label: int    # class index, -1 for an image in the root


def load_image_folder(folder: str | Path, *, image_size: int = 64, channels: int | None = None,
                      limit: int | None = None, attributes_file: str | Path | None = None) -> ImageData:
    """Every readable image under folder (the first `limit` of them), as (N, C, size, size) uint8."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    candidates, label_names, skipped = list_images(root)
    pixels, labels, names, all_gray = [], [], [], True
    for cand in candidates:
        if limit is not None and len(pixels) >= limit:
            break
        try:
            img, gray = read_image(cand.path, image_size)
        except BadImage as exc:
            skipped.append((cand.rel, str(exc)))
            continue
        pixels.append(np.asarray(img))
        labels.append(cand.label)
        names.append(cand.rel)
        all_gray &= gray
    if not pixels:
        reasons = "; ".join(f"{n}: {r}" for n, r in skipped[:3])
        raise DatasetError(f"{root}: no readable image found"
                           + (f" ({len(skipped)} files skipped, e.g. {reasons})" if skipped else ""))

    c = channels if channels is not None else (1 if all_gray else 3)
    images = np.stack([_with_channels(p, c) for p in pixels])          # (N, C, S, S)
    label_array = np.asarray(labels, dtype=np.int64) if label_names else None
    attributes, attribute_names = None, []
    if attributes_file is not None:
        attributes, keep, attribute_names, more = match_attributes(
            attributes_file, names, {cand.rel for cand in candidates})
        skipped.extend(more)
        if not keep.any():
            raise DatasetError(f"{attributes_file}: no image in {root} has a row in this table")
        images, attributes = images[keep], attributes[keep]
        label_array = None if label_array is None else label_array[keep]
    return ImageData(images=images, labels=label_array, label_names=label_names, attributes=attributes,
                     attribute_names=attribute_names, name=root.resolve().name, source=str(root),
                     skipped=skipped)


def list_images(root: Path) -> tuple[list[Candidate], list[str], list[tuple[str, str]]]:
    """Image files in a fixed order (root first, then classes by name), class names, and skipped entries."""
    real_root = root.resolve()
    skipped: list[tuple[str, str]] = []
    root_files, class_dirs = [], []
    for entry in _sorted_entries(root, root, skipped):
        if entry.is_dir(follow_symlinks=False):
            class_dirs.append(entry)
        elif _is_symlinked_folder(entry):
            skipped.append((entry.name, "symlinked folder not followed"))
        else:
            root_files.append(entry)
    candidates = [c for e in root_files if (c := _candidate(e, root, real_root, -1, skipped))]
    for label, class_dir in enumerate(class_dirs):
        for entry in _walk_files(Path(class_dir.path), root, skipped):
            if cand := _candidate(entry, root, real_root, label, skipped):
                candidates.append(cand)
    return candidates, [d.name for d in class_dirs], skipped


def _sorted_entries(folder: Path, root: Path, skipped: list) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if not e.name.startswith(".")]
    except OSError as exc:
        skipped.append((_rel(folder, root) or ".", f"cannot list folder ({exc.strerror or exc})"))
        return []
    return sorted(entries, key=lambda e: e.name)


def _walk_files(folder: Path, root: Path, skipped: list):
    """Files under folder to MAX_DEPTH folders down, sorted (depth first, as a recursive walk would give
    them), without entering symlinked folders; iterative, so 1,500 nested folders cannot overflow the
    stack. More than MAX_FOLDERS folders is a DatasetError, not a walk of the whole disk."""
    stack = [(iter(_sorted_entries(folder, root, skipped)), 0)]
    folders = 0
    while stack:
        entries, depth = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
        elif entry.is_dir(follow_symlinks=False):
            if depth + 1 > MAX_DEPTH:
                skipped.append((_rel(Path(entry.path), root), f"more than {MAX_DEPTH} folders deep: not entered"))
                continue
            folders += 1
            if folders > MAX_FOLDERS:
                raise DatasetError(f"{root}: more than {MAX_FOLDERS:,} folders below it; not an image folder "
                                   "(point at the folder that holds the class folders)")
            stack.append((iter(_sorted_entries(Path(entry.path), root, skipped)), depth + 1))
        elif _is_symlinked_folder(entry):
            skipped.append((_rel(Path(entry.path), root), "symlinked folder not followed"))
        else:
            yield entry


def _candidate(entry: os.DirEntry, root: Path, real_root: Path, label: int,
               skipped: list) -> Candidate | None:
    path = Path(entry.path)
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return None
    rel = _rel(path, root)
    if entry.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):   # dangling link or a loop (RuntimeError before Python 3.13)
            skipped.append((rel, "broken symlink"))
            return None
        if not target.is_relative_to(real_root):
            skipped.append((rel, "symlink points outside the folder"))
            return None
    return Candidate(rel=rel, path=path, label=label)


def _is_symlinked_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_symlink() and entry.is_dir()
    except OSError:   # a symlink loop: not a folder, and _candidate reports it
        return False


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def read_image(path: Path, size: int) -> tuple[Image.Image, bool]:
    """The image as L or RGB, cropped and resized to size x size, and whether it was grayscale."""
    try:
        info = path.stat()
    except OSError as exc:
        raise BadImage(f"cannot open ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(info.st_mode):   # reading a FIFO or a device named x.png would block forever
        raise BadImage(f"{kind_of(info.st_mode)}, not a regular file")
    if info.st_size == 0:
        raise BadImage("empty file (0 bytes)")
    with warnings.catch_warnings():
        # PIL only warns between 1x and 2x its pixel limit; we refuse the file ourselves, naming its size
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            # open_regular: a FIFO swapped in after the stat above is refused, not waited on
            with open_regular(path, BadImage, "image") as f, Image.open(f) as im:
                w, h = im.size
                limit = Image.MAX_IMAGE_PIXELS
                if limit and w * h > limit:
                    raise BadImage(f"decompression bomb: {w} x {h} pixels (limit {limit:,})")
                gray = im.mode in GRAY_MODES
                im.draft(im.mode, (size, size))   # JPEG only: decode at 1/2..1/8 scale when that is enough
                img = _to_l_or_rgb(_upright(im))
                return square_resize(img, size), gray
        except BadImage:
            raise
        except Image.DecompressionBombError as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))   # PIL refuses before we can see W x H
            count = f"{int(found.group(1)):,}" if found else "too many"
            raise BadImage(f"decompression bomb: {count} pixels (limit {Image.MAX_IMAGE_PIXELS:,})") from exc
        except UnidentifiedImageError as exc:
            raise BadImage("not an image (PIL cannot identify it)") from exc
        # PIL's decoders raise many exception types on damaged data; one file must not stop the loading
        except Exception as exc:
            raise BadImage(f"truncated or corrupt ({type(exc).__name__}: {exc})") from exc


def _upright(im: Image.Image) -> Image.Image:
    im.load()
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a damaged EXIF block only loses the orientation; pixels are fine
        return im


def _to_l_or_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode in ("1", "L"):
        return im.convert("L")
    if mode.startswith("I;16"):
        arr = np.asarray(im).astype(np.uint32)
        return Image.fromarray(((arr * 255 + 32767) // 65535).astype(np.uint8))
    if mode == "I":
        return Image.fromarray(_int_to_8bit(np.asarray(im)))
    if mode == "F":
        return Image.fromarray(_float_to_8bit(np.asarray(im)))
    if mode in ("LA", "La"):
        la = np.asarray(im.convert("LA")).astype(np.uint16)
        return Image.fromarray(((la[..., 0] * la[..., 1] + 127) // 255).astype(np.uint8))
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA")).astype(np.uint16)
        return Image.fromarray(((rgba[..., :3] * rgba[..., 3:] + 127) // 255).astype(np.uint8))
    return im.convert("RGB")


def _int_to_8bit(arr: np.ndarray) -> np.ndarray:
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and hi <= 255:
        return arr.astype(np.uint8)
    if lo >= 0 and hi <= 65535:
        return ((arr.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)
    return _stretch(arr.astype(np.float64))


def _float_to_8bit(arr: np.ndarray) -> np.ndarray:
    arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if arr.min() >= 0.0 and arr.max() <= 1.0:
        return np.rint(arr * 255.0).astype(np.uint8)
    return _stretch(arr)


def _stretch(arr: np.ndarray) -> np.ndarray:
    lo, hi = arr.min(), arr.max()
    return np.rint((arr - lo) * (255.0 / max(hi - lo, 1e-12))).astype(np.uint8)


def _with_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """(S, S) or (S, S, 3) uint8 -> (channels, S, S)."""
    chw = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return convert_channels(chw[None], channels)[0]
