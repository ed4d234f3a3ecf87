"""MNIST / Fashion-MNIST IDX files, gzipped or raw (decided by the gzip magic bytes, not the extension).

An IDX file is a 4-byte magic number (0, 0, type code, number of dimensions), one big-endian uint32 per
dimension, then the values. Only unsigned bytes (type 0x08) are accepted: 0x00000803 for (N, H, W) images and
0x00000801 for (N,) labels. The header is checked against the real size before anything is allocated, so a
corrupt or hostile header cannot ask for terabytes.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import NoReturn

import numpy as np

from latent_atlas.models.data.image_data import ImageData
from latent_atlas.models.errors import DatasetError
from latent_atlas.models.safe_files import open_regular

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
MAX_IDX_BYTES = 1 << 31     # 2 GiB: 40x Fashion-MNIST; anything larger is a corrupt header, not a dataset
MAX_GZIP_RATIO = 1100       # deflate cannot expand more than ~1032:1, so a bigger claim is a lie
READ_CHUNK = 1 << 22        # decompress in 4 MiB pieces: memory follows the real data, not the header's claim

FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGIT_NAMES = [str(d) for d in range(10)]
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """The uint8 array in an IDX file with `ndim` dimensions; DatasetError naming the file otherwise."""
    path = Path(path)
    try:
        with open_regular(path, DatasetError, "IDX file") as raw:   # a FIFO, device or folder: refused
            is_gzip = raw.read(2) == GZIP_MAGIC
            size_on_disk = os.fstat(raw.fileno()).st_size
            raw.seek(0)
            if is_gzip:
                with gzip.GzipFile(fileobj=raw) as stream:
                    return _parse(stream, path, ndim, size_on_disk, compressed=True)
            return _parse(raw, path, ndim, size_on_disk, compressed=False)
    except DatasetError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path}: truncated or corrupt gzip data ({exc})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read IDX file ({exc.strerror or exc})") from exc


def _parse(stream, path: Path, ndim: int, size_on_disk: int, compressed: bool) -> np.ndarray:
    magic = _read_exactly(stream, 4, path, "the 4-byte magic number")
    expected = (UBYTE << 8) | ndim
    if magic[0] != 0 or magic[1] != 0 or magic[2] != UBYTE or magic[3] != ndim:
        raise DatasetError(f"{path}: wrong magic number 0x{magic.hex()}: expected 0x{expected:08x} "
                           f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})")
    dims = struct.unpack(f">{ndim}I", _read_exactly(stream, 4 * ndim, path, f"{ndim} dimension sizes"))
    n_values = 1
    for d in dims:
        n_values *= d   # python ints: no overflow for absurd headers
    header = 4 + 4 * ndim
    shape = "x".join(str(d) for d in dims)
    if n_values > MAX_IDX_BYTES:
        raise DatasetError(f"{path}: header claims {shape} = {n_values:,} bytes, over the "
                           f"{MAX_IDX_BYTES:,}-byte limit; the header is corrupt")
    if compressed:
        if n_values > size_on_disk * MAX_GZIP_RATIO:
            raise DatasetError(f"{path}: header claims {shape} = {n_values:,} bytes, more than a "
                               f"{size_on_disk:,}-byte gzip file can hold; the header is corrupt")
        data = _read_capped(stream, n_values + 1)   # one byte more than claimed reveals trailing data
    elif size_on_disk - header != n_values:
        _size_error(path, shape, n_values, size_on_disk - header)
    else:
        data = _read_capped(stream, n_values)
    if len(data) != n_values:
        _size_error(path, shape, n_values, len(data))
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)   # bytearray: the array is writable


def _size_error(path: Path, shape: str, n_values: int, got: int) -> NoReturn:
    """got is exact for raw files; for gzip we stop reading one byte past the claim, so got = n_values + 1."""
    if got < n_values:
        raise DatasetError(f"{path}: truncated: header claims {shape} = {n_values:,} bytes of data "
                           f"but only {got:,} follow")
    raise DatasetError(f"{path}: unexpected bytes after the {n_values:,} bytes the header declares "
                       f"({shape}); header and contents disagree")


def _read_exactly(stream, n: int, path: Path, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise DatasetError(f"{path}: truncated: file ends inside {what}")
    return data


def _read_capped(stream, cap: int) -> bytearray:
    """At most `cap` bytes, read in chunks so a lying header never makes us allocate its claim."""
    parts, total = [], 0
    while total < cap:
        part = stream.read(min(READ_CHUNK, cap - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return bytearray().join(parts)


def find_idx_file(folder: Path, prefix: str, kind: str, ndim: int) -> Path | None:
    """train-images-idx3-ubyte(.gz) or the older train-images.idx3-ubyte(.gz) spelling, if present.

    Whatever the name is (a FIFO, a link to /dev/zero, a folder) is returned for read_idx to refuse by
    name; skipping it would report the file as missing."""
    for sep in ("-", "."):
        for ext in ("", ".gz"):
            candidate = folder / f"{prefix}-{kind}{sep}idx{ndim}-ubyte{ext}"
            if os.path.lexists(candidate):
                return candidate
    return None


def has_idx_files(folder: Path) -> bool:
    """Whether the folder holds IDX image files of either split (by name: read_idx checks what they are)."""
    return any(find_idx_file(folder, p, "images", 3) for p in SPLIT_PREFIX.values())


def load_idx_folder(folder: str | Path, split: str, names: list[str], name: str,
                    file_prefix: str | None = None) -> ImageData:
    """Images and labels of one split from a folder of IDX files, as (N, 1, H, W) uint8.

    file_prefix overrides the split's file prefix ("t10k" serves both splits of a test-only subset).
    """
    folder = Path(folder)
    if split not in SPLIT_PREFIX:
        raise DatasetError(f"{folder}: unknown split '{split}': use 'train' or 'test'")
    prefix = file_prefix or SPLIT_PREFIX[split]
    image_file = find_idx_file(folder, prefix, "images", 3)
    label_file = find_idx_file(folder, prefix, "labels", 1)
    for found, kind, nd in ((image_file, "images", 3), (label_file, "labels", 1)):
        if found is None:
            raise DatasetError(f"{folder}: no {prefix}-{kind}-idx{nd}-ubyte(.gz) file for the {split} split")
    images = read_idx(image_file, 3)
    labels = read_idx(label_file, 1)
    if len(images) != len(labels):
        raise DatasetError(f"{image_file.name} has {len(images):,} images but {label_file.name} has "
                           f"{len(labels):,} labels (in {folder})")
    if len(labels) and int(labels.max()) >= len(names):
        bad = int(np.argmax(labels >= len(names)))
        raise DatasetError(f"{label_file}: label {int(labels[bad])} at index {bad} "
                           f"is outside 0..{len(names) - 1}")
    return ImageData(images=images[:, None], labels=labels.astype(np.int64), label_names=list(names),
                     attributes=None, attribute_names=[], name=name, source=str(folder))
