"""load_dataset: one entry point that picks the loader from a built-in name or a path.

A path to a folder holding IDX files (train-images-idx3-ubyte(.gz), ...) loads as MNIST-style data: its class
names are Fashion-MNIST's if 'fashion' appears in the path, else the digits 0-9. Any other folder loads as an
image folder (image_folder.py). Fashion-MNIST and MNIST are looked for in /usr/share/datasets (or where the
LATENT_ATLAS_FASHION_MNIST / LATENT_ATLAS_MNIST variables point); Fashion-MNIST falls back to the small
t10k subset shipped in resources/, which then serves both splits. "emoji" draws emoji-test.txt's emoji with a
colour emoji font (emoji.py): 64 or 32 pixels natively, any other size resized from the 64-pixel drawing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.data.digits import load_digits
from latent_atlas.models.data.emoji import IMAGE_SIZES as EMOJI_SIZES
from latent_atlas.models.data.emoji import load_emoji
from latent_atlas.models.data.idx import (
    DIGIT_NAMES,
    FASHION_NAMES,
    SPLIT_PREFIX,
    find_idx_file,
    has_idx_files,
    load_idx_folder,
)
from latent_atlas.models.data.image_data import ImageData
from latent_atlas.models.data.image_folder import load_image_folder
from latent_atlas.models.data.shapes import make_shapes
from latent_atlas.models.errors import DatasetError

DATASET_NAMES = ("digits", "shapes", "fashion-mnist", "mnist", "emoji")
MAX_IMAGE_SIZE = 1024   # a 1024x1024 RGB image is 3 MB; a larger request is a typo, not a plan


@dataclass(frozen=True)
class IdxSource:
    env_var: str
    default_dir: Path
    names: list[str]
    subset_dir: Path | None      # a small t10k copy in the repo, used when the full set is not installed
    install_hint: str


BUILTIN_IDX = {
    "fashion-mnist": IdxSource("LATENT_ATLAS_FASHION_MNIST", Path("/usr/share/datasets/fashion-mnist"),
                               FASHION_NAMES, resource_path("fashion-mnist-subset"),
                               "apt-get install dataset-fashion-mnist"),
    "mnist": IdxSource("LATENT_ATLAS_MNIST", Path("/usr/share/datasets/mnist"), DIGIT_NAMES, None,
                       "put the four MNIST IDX files there"),
}


def load_dataset(spec: str, *, split: str = "train", image_size: int | None = None,
                 channels: int | None = None, limit: int | None = None, seed: int = 0,
                 attributes_file: str | None = None, font: str | None = None) -> ImageData:
    """Load a built-in dataset by name (DATASET_NAMES) or a folder by path; DatasetError if that fails.

    image_size defaults to the data's own (digits 8, shapes 64, IDX 28, image folders and emoji 64); channels
    to 1, except image folders (RGB unless every image is grayscale) and emoji (RGB); limit keeps the first
    `limit` items; seed only changes the shapes; attributes_file applies to image folders (see
    attributes.py), font (a colour emoji font file) to emoji.
    """
    _check_arguments(split, image_size, channels, limit)
    if attributes_file is not None and spec in DATASET_NAMES:
        raise DatasetError(f"{attributes_file}: an attribute table applies only to image folders, "
                           f"not '{spec}'")
    if font is not None and spec != "emoji":
        raise DatasetError(f"{font}: a font applies only to the emoji dataset, not '{spec}'")
    if spec == "digits":
        data = load_digits(split)
    elif spec == "shapes":
        data = make_shapes(split, seed=seed, image_size=image_size or 64, count=limit)
    elif spec == "emoji":
        data = load_emoji(split, image_size=image_size if image_size in EMOJI_SIZES else 64, font=font)
    elif spec in BUILTIN_IDX:
        data = _load_builtin_idx(spec, split)
    else:
        data = _load_path(spec, split, image_size, channels, limit, attributes_file)
    if limit is not None and len(data) > limit:
        data = data.subset(np.arange(limit))
    if image_size is not None:
        data = data.resized(image_size)
    if channels is not None:
        data = data.with_channels(channels)
    return data


def _load_path(spec: str, split: str, image_size: int | None, channels: int | None, limit: int | None,
               attributes_file: str | None) -> ImageData:
    path = Path(spec).expanduser()
    if not path.exists():
        raise DatasetError(f"{spec}: no such file or folder, and not a built-in dataset "
                           f"({', '.join(DATASET_NAMES)})")
    if not path.is_dir():
        raise DatasetError(f"{path}: is a file; expected a folder of images or of IDX files")
    if has_idx_files(path):
        if attributes_file is not None:
            raise DatasetError(f"{attributes_file}: an attribute table applies only to image folders, "
                               f"and {path} holds IDX files")
        names = FASHION_NAMES if "fashion" in str(path.resolve()).lower() else DIGIT_NAMES
        return load_idx_folder(path, split, names, name=path.resolve().name)
    return load_image_folder(path, image_size=image_size or 64, channels=channels, limit=limit,
                             attributes_file=attributes_file)


def _load_builtin_idx(name: str, split: str) -> ImageData:
    src = BUILTIN_IDX[name]
    override = os.environ.get(src.env_var)
    primary = Path(override).expanduser() if override else src.default_dir
    if find_idx_file(primary, SPLIT_PREFIX[split], "images", 3):
        return load_idx_folder(primary, split, src.names, name=name)
    looked = [str(primary)]
    if src.subset_dir is not None:
        looked.append(str(src.subset_dir))
        if find_idx_file(src.subset_dir, "t10k", "images", 3):
            data = load_idx_folder(src.subset_dir, split, src.names, name=name, file_prefix="t10k")
            return replace(data, source=f"{src.subset_dir} (small t10k subset serving the {split} split; "
                                        f"the full set is not in {primary})")
    raise DatasetError(f"{name}: no IDX files for the {split} split in {' or '.join(looked)}; "
                       f"{src.install_hint}, or set {src.env_var} to the folder that holds them")


def _check_arguments(split: str, image_size: int | None, channels: int | None, limit: int | None) -> None:
    if split not in ("train", "test"):
        raise DatasetError(f"unknown split '{split}': use 'train' or 'test'")
    if image_size is not None and not (_whole(image_size) and 4 <= image_size <= MAX_IMAGE_SIZE):
        raise DatasetError(f"image size {image_size!r} is out of range: use 4..{MAX_IMAGE_SIZE} pixels")
    if channels not in (None, 1, 3):
        raise DatasetError(f"channels {channels!r}: use 1 (grayscale) or 3 (RGB)")
    if limit is not None and not (_whole(limit) and limit >= 1):
        raise DatasetError(f"limit {limit!r}: use a whole number of at least 1")


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)   # True is an int, but not a size
