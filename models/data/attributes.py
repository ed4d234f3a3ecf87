"""Binary attribute tables for image folders: CelebA's list_attr_celeba.txt format, or a CSV.

The content decides the format: a first line that is a whole number means CelebA format, anything else CSV.

- CelebA format: line 1 the number of rows, line 2 the attribute names separated by white space, then one
  `file v1 v2 ...` row per image.
- CSV: a header `file,attr1,attr2,...` (the first column's name is free), then one row per image.

Values are -1, 0, 1 or +1: -1 and 0 mean 0.0 (absent), 1 and +1 mean 1.0 (present). CRLF line ends and a
UTF-8 byte-order mark are accepted; blank lines are ignored.

Policy: a damaged table is rejected, a table that does not match the folder is reported.
- Strict (DatasetError naming the file and the line): a row with the wrong number of values, a value outside
  the four above, a file listed twice, a file name that is absolute or contains `..` (it would leave the
  folder), duplicate attribute names, or a row count on line 1 that disagrees with the rows.
- Lenient (listed in ImageData.skipped, loading goes on): a listed file that is not in the folder, and an
  image in the folder with no row (that image is left out).

File names are paths relative to the image folder with `/` separators (a `\\` is read as `/`); CelebA's own
table lists bare names of images that sit directly in the folder.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from latent_atlas.models.errors import DatasetError
from latent_atlas.models.safe_files import read_capped

MAX_TABLE_BYTES = 200 * 2**20   # CelebA's table is 26 MB; a bigger file is not an attribute table
MAX_ATTRIBUTES = 1000           # CelebA has 40 columns; a checkpoint's dataset description holds the names
MAX_ATTRIBUTE_NAME = 200        # characters (the checkpoint's limit for a name)
VALUES = {"-1": 0.0, "0": 0.0, "1": 1.0, "+1": 1.0}
_DRIVE = re.compile(r"^[A-Za-z]:")
_COUNT_LINE = re.compile(r"^\+?\d{1,18}$")   # bounded: int() of a 5,000-digit line raises ValueError


def read_attribute_table(path: str | Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """Attribute names, and each listed file's (A,) float32 values in {0, 1}."""
    path = Path(path)
    lines = _read_lines(path)
    if not any(line.strip() for line in lines):
        raise DatasetError(f"{path}: attribute table is empty")
    if _COUNT_LINE.match(lines[0].strip()):
        names, rows = _parse_celeba(path, lines)
    else:
        names, rows = _parse_csv(path, lines)
    if len(names) > MAX_ATTRIBUTES:     # refused here, not after training: the checkpoint could not hold them
        raise DatasetError(f"{path}: {len(names):,} attribute columns, over the limit of {MAX_ATTRIBUTES:,}")
    long = next((n for n in names if len(n) > MAX_ATTRIBUTE_NAME), None)
    if long is not None:
        raise DatasetError(f"{path}: an attribute name is {len(long):,} characters long, over the limit of "
                           f"{MAX_ATTRIBUTE_NAME}")
    table: dict[str, np.ndarray] = {}
    first_line: dict[str, int] = {}
    for line_no, raw_name, values in rows:
        where = f"{path}: line {line_no}"
        if len(values) != len(names):
            raise DatasetError(f"{where}: {len(values)} values for '{raw_name}', expected {len(names)}")
        key = relative_name(raw_name, where)
        if key in table:
            raise DatasetError(f"{where}: '{raw_name}' is listed twice (first on line {first_line[key]})")
        table[key] = np.array([_value(v, names[i], where) for i, v in enumerate(values)], dtype=np.float32)
        first_line[key] = line_no
    return names, table


def relative_name(raw: str, where: str) -> str:
    """The file name as a clean relative path, or DatasetError if it is absolute or leaves the folder."""
    name = raw.replace("\\", "/")
    if not name or "\x00" in name:
        raise DatasetError(f"{where}: empty or unprintable file name {raw!r}")
    if name.startswith("/") or _DRIVE.match(name):
        raise DatasetError(f"{where}: file name '{raw}' is an absolute path; "
                           f"names are relative to the folder")
    parts = name.split("/")
    if ".." in parts:
        raise DatasetError(f"{where}: file name '{raw}' contains '..' and would leave the folder")
    clean = "/".join(p for p in parts if p not in ("", "."))
    if not clean:
        raise DatasetError(f"{where}: file name '{raw}' names no file")
    return clean


def match_attributes(table_path: str | Path, image_names: list[str], folder_files: set[str]):
    """Join a table to the images that loaded.

    image_names: relative names of the good images, in order; folder_files: every image file in the folder.
    Returns (attributes (N, A) float32 with zeros where keep is False, keep (N,) bool, attribute names,
    skipped [(file name, reason)]).
    """
    table_path = Path(table_path)
    names, table = read_attribute_table(table_path)
    attributes = np.zeros((len(image_names), len(names)), dtype=np.float32)
    keep = np.zeros(len(image_names), dtype=bool)
    skipped = []
    for i, name in enumerate(image_names):
        row = table.get(name)
        if row is None:
            skipped.append((name, f"no row in {table_path.name}"))
        else:
            attributes[i], keep[i] = row, True
    for name in table:
        if name not in folder_files:
            skipped.append((name, f"listed in {table_path.name} but not found in the folder"))
    return attributes, keep, names, skipped


def _read_lines(path: Path) -> list[str]:
    # a FIFO, a device or a folder is refused before it is opened; at most the cap plus one byte is read
    data = read_capped(path, MAX_TABLE_BYTES, DatasetError, "attribute table")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_no = data[:exc.start].count(b"\n") + 1
        raise DatasetError(f"{path}: line {line_no}: not UTF-8 text (byte {exc.start})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _parse_celeba(path: Path, lines: list[str]):
    count = int(lines[0].strip())
    if len(lines) < 2 or not lines[1].split():
        raise DatasetError(f"{path}: line 2: expected the attribute names after the row count")
    names = lines[1].split()
    _check_unique(path, names, 2)
    rows = [(no, parts[0], parts[1:]) for no, parts in
            ((i + 1, line.split()) for i, line in enumerate(lines) if i >= 2) if parts]
    if count != len(rows):
        raise DatasetError(f"{path}: line 1: says {count} rows but the file has {len(rows)}")
    return names, rows


def _parse_csv(path: Path, lines: list[str]):
    reader = csv.reader(lines)
    rows, header = [], None
    try:
        for cells in reader:
            cells = [c.strip() for c in cells]
            if not any(cells):
                continue
            if header is None:
                header = cells
                if len(header) < 2:
                    raise DatasetError(f"{path}: line {reader.line_num}: expected a header "
                                       f"'file,attr1,attr2,...' with at least one attribute")
                _check_unique(path, header[1:], reader.line_num)
                continue
            rows.append((reader.line_num, cells[0], cells[1:]))
    except csv.Error as exc:
        raise DatasetError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from exc
    if header is None:
        raise DatasetError(f"{path}: no header line 'file,attr1,attr2,...'")
    return header[1:], rows


def _check_unique(path: Path, names: list[str], line_no: int) -> None:
    seen = set()
    for name in names:
        if not name:
            raise DatasetError(f"{path}: line {line_no}: an attribute name is empty")
        if name in seen:
            raise DatasetError(f"{path}: line {line_no}: attribute '{name}' is named twice")
        seen.add(name)


def _value(text: str, attribute: str, where: str) -> float:
    try:
        return VALUES[text]
    except KeyError:
        raise DatasetError(f"{where}: illegal value '{text}' for '{attribute}': "
                           f"use -1, 0, 1 or +1") from None
