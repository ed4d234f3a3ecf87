"""The emoji data set: every fully-qualified emoji of emoji-test.txt drawn by a colour emoji font, RGB on white.

Sources, both Debian packages and nothing downloaded: Noto Color Emoji (`fonts-noto-color-emoji`; images
Apache-2.0, font OFL-1.1) and Unicode's emoji-test.txt (`unicode-data`). Another colour font works the same way
(`font=`, the command line's `--font FILE`). Labels come from emoji_catalogue.py: the class is the group (nine:
Component holds no fully-qualified emoji), attributes are 0/1 columns for the five skin tones and man / woman /
person, and `columns` holds each image's name, subgroup, tone, person, base and family. The test split is the
held-out families (EmojiRecord.held_out), so every tone and gender variant of an emoji sits on one side.
Without the two packages the 64-pixel test split comes from a small bundled subset (emoji_subset.py), so the
bundled emoji models still open with a map; everything else gives the apt-get line.

Drawing: each emoji at the font's bitmap size (109 px for Noto: its only strike, a 136x128 cell), its ink
centred on a white square as wide as the font's cell (the scale is the same for every emoji, so tone variants
line up pixel for pixel), then LANCZOS down to 64 or 32 pixels. One build draws both sizes (about 3,655
pictures), and both go to the user's cache folder ($XDG_CACHE_HOME or ~/.cache, then latent-atlas/), named by a
fingerprint of the font and test file (path, size, mtime) and Pillow's version. A cache file is trusted only if
its own record of that fingerprint, its code points and the sha256 of its pixels all agree; anything else is
drawn again and rewritten (atomically).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageDraw, ImageFont
from safetensors import SafetensorError
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

from latent_atlas.models.checkpoints.atomic_io import atomic_write_bytes
from latent_atlas.models.data.emoji_catalogue import PERSONS, TONES, EmojiRecord, read_emoji_test
from latent_atlas.models.data.emoji_subset import SIDE as SUBSET_SIDE
from latent_atlas.models.data.emoji_subset import read_subset
from latent_atlas.models.data.image_data import ImageData
from latent_atlas.models.errors import DatasetError
from latent_atlas.models.safe_files import read_capped

DEFAULT_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
DEFAULT_TEST_FILE = Path("/usr/share/unicode/emoji/emoji-test.txt")
FONT_PACKAGE = "fonts-noto-color-emoji"
TEST_FILE_PACKAGE = "unicode-data"
IMAGE_SIZES = (64, 32)
# a bitmap (CBDT/sbix) font loads only at one of its strikes; Noto's only one is 109, Apple's are 20..160
FONT_SIZES = (109, 160, 96, 64, 137, 128, 48, 40, 32, 20)
ATTRIBUTE_NAMES = [f"tone-{t}" for t in TONES[1:]] + list(PERSONS[1:])
CACHE_FORMAT = "latent-atlas-emoji-cache"
CACHE_VERSION = "1"
MAX_CACHE_BYTES = 256 * 2**20      # 3,655 x 3 x 64 x 64 is 45 MB
REFERENCE = "\U0001F600"           # grinning face: its cell sets the square every emoji is centred on


class MissingPackages(DatasetError):
    """The default font or test file is not installed: the message is the apt-get line."""


def load_emoji(split: str = "train", *, image_size: int = 64, font: str | Path | None = None,
               test_file: str | Path | None = None, cache_dir: Path | None = None) -> ImageData:
    """The train (not held out) or test (held-out families) emoji at image_size 64 or 32; DatasetError with
    the apt-get line if a package is missing."""
    if split not in ("train", "test"):
        raise DatasetError(f"emoji: unknown split '{split}': use 'train' or 'test'")
    if image_size not in IMAGE_SIZES:
        raise DatasetError(f"emoji: image size {image_size}: drawn at {' or '.join(map(str, IMAGE_SIZES))} "
                           f"pixels only")
    try:
        font_path, test_path = _sources(font, test_file)
    except MissingPackages as e:       # the map of a bundled emoji model still opens: the bundled subset
        if split == "test" and image_size == SUBSET_SIDE:
            return read_subset(str(e))
        raise
    records = read_emoji_test(test_path)
    images, drawn, skipped, cache_path = cached_images(records, font_path, test_path, image_size, cache_dir)
    drawn_records = [r for r, ok in zip(records, drawn) if ok]        # images[i] is drawn_records[i]
    keep = np.array([r.held_out == (split == "test") for r in drawn_records], dtype=bool)
    kept = [r for r, k in zip(drawn_records, keep) if k]
    images = images[keep]
    groups = list(dict.fromkeys(r.group for r in records))
    return ImageData(
        images=images, labels=np.array([groups.index(r.group) for r in kept], dtype=np.int64),
        label_names=groups, attributes=attribute_table(kept), attribute_names=list(ATTRIBUTE_NAMES),
        name="emoji", source=f"{test_path} drawn by {font_path} ({split} split; cached in {cache_path})",
        skipped=skipped, columns=record_columns(kept))


def attribute_table(records: list[EmojiRecord]) -> np.ndarray:
    """(N, 8) float32 0/1: tone-light .. tone-dark, man, woman, person (a mixed pair sets both of its kinds)."""
    table = np.zeros((len(records), len(ATTRIBUTE_NAMES)), dtype=np.float32)
    for i, r in enumerate(records):
        for kind in r.tones:
            table[i, ATTRIBUTE_NAMES.index(f"tone-{kind}")] = 1.0
        for kind in r.persons:
            table[i, ATTRIBUTE_NAMES.index(kind)] = 1.0
    return table


def record_columns(records: list[EmojiRecord]) -> dict[str, np.ndarray]:
    fields = ("name", "subgroup", "tone", "person", "base", "family")
    columns = {f: np.array([getattr(r, f) for r in records], dtype=str).reshape(len(records)) for f in fields}
    columns["codepoints"] = np.array([_cp_text(r) for r in records], dtype=str).reshape(len(records))
    return columns


def _sources(font, test_file) -> tuple[Path, Path]:
    font_path = Path(font).expanduser() if font is not None else DEFAULT_FONT
    test_path = Path(test_file).expanduser() if test_file is not None else DEFAULT_TEST_FILE
    missing = [(path, pkg) for path, pkg, given in ((font_path, FONT_PACKAGE, font),
                                                    (test_path, TEST_FILE_PACKAGE, test_file))
               if given is None and not path.is_file()]
    if missing:
        raise MissingPackages(f"emoji: {' and '.join(str(p) for p, _ in missing)} not found; "
                           f"install with: apt-get install {' '.join(pkg for _, pkg in missing)}")
    for path, what in ((font_path, "font"), (test_path, "emoji test file")):
        if not path.is_file():
            raise DatasetError(f"{path}: no such {what}")
    return font_path.resolve(), test_path.resolve()


def cache_folder() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"   # the XDG rule
    return base / "latent-atlas"


def fingerprint(font_path: Path, test_path: Path, image_size: int) -> dict:
    """What the pixels depend on: a change to any of these draws the set again."""
    def stamp(p: Path) -> dict:
        st = p.stat()
        return {"path": str(p), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {"format": CACHE_FORMAT, "version": CACHE_VERSION, "image_size": image_size,
            "font": stamp(font_path), "test_file": stamp(test_path), "pillow": PIL.__version__}


def cached_images(records, font_path: Path, test_path: Path, image_size: int, cache_dir: Path | None = None):
    """(images of the drawn records, drawn flags, skipped, cache path): from the cache when it checks out."""
    folder = cache_dir or cache_folder()
    prints = {s: fingerprint(font_path, test_path, s) for s in IMAGE_SIZES}
    paths = {s: folder / f"emoji-{s}-{_digest(prints[s])[:16]}.safetensors" for s in IMAGE_SIZES}
    hit = read_cache(paths[image_size], prints[image_size], records)
    if hit is not None:
        return (*hit, paths[image_size])
    by_size, drawn, skipped = render_emoji(records, font_path)
    for size in IMAGE_SIZES:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_cache(paths[size], prints[size], records, by_size[size], drawn)
        except OSError:
            pass          # a read-only home still gets its data, drawn again next time
    return by_size[image_size], drawn, skipped, paths[image_size]


def write_cache(path: Path, print_: dict, records, images: np.ndarray, drawn: list[bool]) -> None:
    meta = {"fingerprint": json.dumps(print_, sort_keys=True), "sha256": _pixels_sha(images),
            "codepoints": _cp_list(records), "drawn": "".join("1" if d else "0" for d in drawn)}
    # one metadata key: safetensors orders several keys differently from run to run, one keeps the bytes fixed
    blob = save_tensors({"images": np.ascontiguousarray(images)}, metadata={"emoji_cache": json.dumps(meta)})
    atomic_write_bytes(path, blob)


def read_cache(path: Path, print_: dict, records):
    """(images, drawn, skipped) if the cache file is whole and made from these sources, else None."""
    if not path.is_file():
        return None
    try:
        data = read_capped(path, MAX_CACHE_BYTES, DatasetError, "emoji cache")
        images = load_tensors(data)["images"]
        meta = _metadata(data)
    except (DatasetError, SafetensorError, KeyError, ValueError, TypeError, AttributeError, OSError):
        return None
    drawn = [c == "1" for c in meta.get("drawn", "")]
    s = print_["image_size"]
    if (meta.get("fingerprint") != json.dumps(print_, sort_keys=True) or meta.get("codepoints") != _cp_list(records)
            or len(drawn) != len(records) or images.dtype != np.uint8 or images.shape != (sum(drawn), 3, s, s)
            or meta.get("sha256") != _pixels_sha(images)):
        return None
    return images, drawn, _skipped(records, drawn)


def render_emoji(records, font_path: Path) -> tuple[dict[int, np.ndarray], list[bool], list[tuple[str, str]]]:
    """Draw every record at each of IMAGE_SIZES: ({size: (M, 3, size, size) uint8}, drawn flags, skipped)."""
    font = open_font(font_path)
    cell = font.getbbox(REFERENCE)
    side = max(cell[2] - cell[0], cell[3] - cell[1])
    by_size: dict[int, list[np.ndarray]] = {s: [] for s in IMAGE_SIZES}
    drawn = []
    for r in records:
        square = draw_one(font, r.text, side)
        drawn.append(square is not None)
        if square is not None:
            for s in IMAGE_SIZES:
                by_size[s].append(np.asarray(square.resize((s, s), Image.Resampling.LANCZOS)).transpose(2, 0, 1))
    stacked = {s: np.stack(v) if v else np.zeros((0, 3, s, s), np.uint8) for s, v in by_size.items()}
    return stacked, drawn, _skipped(records, drawn)


def draw_one(font, text: str, side: int) -> Image.Image | None:
    """The emoji's ink centred on a white side x side RGB square, or None if the font has no single picture
    for it (it would draw the sequence as several pieces, or nothing)."""
    box = font.getbbox(text)
    if box[2] - box[0] > 1.5 * side:
        return None
    pad = side // 2
    canvas = Image.new("RGBA", (box[2] + 2 * pad, box[3] + 2 * pad), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((pad, pad), text, font=font, embedded_color=True)
    ink = canvas.getchannel("A").getbbox()
    if ink is None:
        return None
    glyph = canvas.crop(ink)
    if max(glyph.size) > side:         # only a font whose emoji outgrow its own cell; Noto's never do
        glyph.thumbnail((side, side), Image.Resampling.LANCZOS)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return square.convert("RGB")


def open_font(path: Path):
    error = None
    for size in FONT_SIZES:
        try:
            return ImageFont.truetype(str(path), size)
        except OSError as e:          # "invalid pixel size": a bitmap font without this strike
            error = e
    raise DatasetError(f"{path}: not a font Pillow can draw ({error})")


def _skipped(records, drawn) -> list[tuple[str, str]]:
    return [(r.name, "the font has no single picture for it") for r, ok in zip(records, drawn) if not ok]


def _metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    meta = json.loads((header.get("__metadata__") or {}).get("emoji_cache", "null"))
    if not isinstance(meta, dict):
        raise TypeError("no metadata")
    return meta


def _cp_text(r: EmojiRecord) -> str:
    return " ".join(f"{c:04X}" for c in r.codepoints)


def _cp_list(records) -> str:
    return ";".join(_cp_text(r) for r in records)


def _pixels_sha(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()


def _digest(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
