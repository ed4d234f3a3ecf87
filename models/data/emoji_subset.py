"""A small bundled copy of the emoji test split, so the bundled emoji models open with a map on a machine
without `fonts-noto-color-emoji` and `unicode-data`.

resources/emoji-subset/ holds whole held-out families (picked by a hash of the family's name, so every tone and
gender variant of one emoji is in or out together) up to SUBSET_SIZE pictures: one PNG sheet of 64x64 cells, row
by row, and a JSON with each picture's labels and the sha256 of the pixels. It serves the test split only: the
map reads the test split, and training on a few hundred pictures without saying so would be worse than the
apt-get line the train split gives. Written by scripts/build_resources.py (write_subset), read by load_emoji.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.checkpoints.atomic_io import atomic_write_bytes
from latent_atlas.models.data.image_data import ImageData
from latent_atlas.models.errors import DatasetError
from latent_atlas.models.safe_files import read_capped

SUBSET_DIR = resource_path("emoji-subset")
SHEET, RECORD = "emoji-test-subset.png", "emoji-test-subset.json"
SUBSET_SIZE = 384
COLUMNS_PER_ROW = 16
SIDE = 64
FORMAT, VERSION = "latent-atlas-emoji-subset", 1
MAX_BYTES = 8 * 2**20


def _family_order(family: str) -> bytes:
    return hashlib.sha256(family.encode("utf-8")).digest()


def pick_rows(data: ImageData, limit: int = SUBSET_SIZE) -> np.ndarray:
    """Rows of whole families, in the order of their names' hashes, while the total stays within limit."""
    families = data.columns["family"]
    rows: list[int] = []
    for family in sorted(set(families.tolist()), key=_family_order):
        members = np.flatnonzero(families == family).tolist()
        if len(rows) + len(members) <= limit:
            rows += members
    return np.array(sorted(rows), dtype=np.int64)


def write_subset(data: ImageData, folder: Path = SUBSET_DIR, limit: int = SUBSET_SIZE) -> Path:
    """The picked rows of the 64-pixel test split as a PNG sheet and a JSON record (both atomically)."""
    if data.image_shape != (3, SIDE, SIDE):
        raise DatasetError(f"emoji subset: needs the {SIDE}-pixel RGB test split, got {data.image_shape}")
    part = data.subset(pick_rows(data, limit))
    n = len(part)
    rows = -(-n // COLUMNS_PER_ROW)
    sheet = np.full((rows * SIDE, COLUMNS_PER_ROW * SIDE, 3), 255, np.uint8)
    for i, image in enumerate(part.images):
        r, c = divmod(i, COLUMNS_PER_ROW)
        sheet[r * SIDE:(r + 1) * SIDE, c * SIDE:(c + 1) * SIDE] = image.transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, "PNG", optimize=True)
    record = {"format": FORMAT, "version": VERSION, "count": n, "side": SIDE, "per_row": COLUMNS_PER_ROW,
              "sha256": hashlib.sha256(np.ascontiguousarray(part.images).tobytes()).hexdigest(),
              "label_names": part.label_names, "attribute_names": part.attribute_names,
              "labels": part.labels.tolist(),
              "attributes": ["".join("1" if v else "0" for v in row) for row in part.attributes],
              "columns": {k: v.tolist() for k, v in part.columns.items()}}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / SHEET, buf.getvalue())
    atomic_write_bytes(folder / RECORD, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    return folder


def read_subset(install_hint: str, folder: Path = SUBSET_DIR) -> ImageData:
    """The bundled test-split subset; DatasetError if it is missing or does not match its record."""
    sheet_path, record_path = folder / SHEET, folder / RECORD
    if not sheet_path.is_file() or not record_path.is_file():
        raise DatasetError(install_hint)
    try:
        record = json.loads(read_capped(record_path, MAX_BYTES, DatasetError, "emoji subset record"))
        n, names = int(record["count"]), list(record["attribute_names"])
        with Image.open(io.BytesIO(read_capped(sheet_path, MAX_BYTES, DatasetError, "emoji subset sheet"))) as im:
            if im.format != "PNG" or im.size != (COLUMNS_PER_ROW * SIDE, -(-n // COLUMNS_PER_ROW) * SIDE):
                raise ValueError(f"sheet is {im.format} {im.size}")
            sheet = np.asarray(im.convert("RGB"))
        cells = [sheet[r * SIDE:(r + 1) * SIDE, c * SIDE:(c + 1) * SIDE].transpose(2, 0, 1)
                 for r, c in (divmod(i, COLUMNS_PER_ROW) for i in range(n))]
        images = np.ascontiguousarray(np.stack(cells)) if cells else np.zeros((0, 3, SIDE, SIDE), np.uint8)
        if hashlib.sha256(images.tobytes()).hexdigest() != record["sha256"]:
            raise ValueError("the pixels do not match the recorded sha256")
        attributes = np.array([[c == "1" for c in row] for row in record["attributes"]], np.float32)
        return ImageData(
            images=images, labels=np.array(record["labels"], np.int64), label_names=list(record["label_names"]),
            attributes=attributes.reshape(n, len(names)), attribute_names=names, name="emoji",
            source=f"{folder} (bundled subset: {n} held-out emoji serving the test split; {install_hint})",
            columns={k: np.array(v, dtype=str).reshape(n) for k, v in record["columns"].items()})
    except (KeyError, TypeError, ValueError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{folder}: the bundled emoji subset is damaged\n{e}") from None
