"""Reading a checkpoint's header without trusting it: sniffing, bounds, offsets, metadata types.

Nothing here loads a tensor or builds a network. Every check raises `FormatProblem`, which the public
functions turn into a `CheckpointError` naming the file, so the messages here leave the file name out.
"""
from __future__ import annotations

import codecs
import io
import json
import os
import pickletools
import stat
from pathlib import Path

from latent_atlas.models.errors import CheckpointError
from latent_atlas.models.file_schema import Choice, Float, Int, List, Obj, Optional, SchemaProblem, Str
from latent_atlas.models.safe_files import regular_file_size, shown

FORMAT_NAME = "latent-atlas"
FORMAT_VERSION = "1"
SUPPORTED_VERSIONS = ("1",)
MAX_HEADER_BYTES = 100 * 1024 * 1024   # a header is JSON; anything larger is hostile, not a model
MAX_RANK = 16
DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}
FLOAT_DTYPES = ("F32", "F16", "BF16", "F64")
INT_DTYPES = ("I64", "I32")
TENSOR_PREFIXES = ("model.", "optim.", "rng.", "vector.")
# (expected JSON type, size cap in bytes) per structured metadata value; all are bounded by the header too
JSON_FIELDS = {
    "config": (dict, 64 * 1024),
    "dataset": (dict, 4 * 1024 * 1024),
    "history": (dict, 50 * 1024 * 1024),
    "optim": (dict, 1024 * 1024),
    "train_state": (dict, 4 * 1024 * 1024),
    "vectors": (dict, 4 * 1024 * 1024),
}
SNIFF_BYTES = 4096
MAX_TENSOR_NAME = 1000      # characters; weight names are dotted module paths of a few dozen
MAX_VECTOR_NAME = 200       # characters of an attribute vector's name (a 10 MB name froze the editor's labels)
MAX_VECTORS = 1000          # attribute vectors in a checkpoint, a session or a vector file
MAX_NAMES = 10_000          # class, condition or attribute names in a dataset description
MAX_RNG_BYTES = 1 << 20     # one generator's state: torch's CPU state is 5,056 bytes, a CUDA one 16
MAX_RNG_STATES = 4096       # one per device and per rank
# the optimiser state may hold a few tensors per parameter (Adam: two, plus a step): refuse more than this
OPTIM_BYTES_PER_WEIGHT_BYTE = 4
PICKLE_MESSAGE = ("{file} is a PyTorch pickle checkpoint; it is not opened directly because unpickling "
                  "can run code. Convert it (the layout is recognised from its tensors): latent-atlas convert "
                  "{file} --out model.safetensors")


_names = List(Str(max_len=256, min_len=0), max_len=MAX_NAMES)     # class folder names: up to NAME_MAX
_count = Int(0, 2**53)
# what the rest of the program reads of these two metadata values (other keys pass through unchecked)
DATASET_SCHEMA = Obj({"name": Str(max_len=256, min_len=0), "source": Str(max_len=4096, min_len=0),
                      "family": Optional(Str(max_len=40)),
                      "n": _count, "n_skipped": _count, "image_shape": List(_count, max_len=3),
                      "label_names": _names, "attribute_names": _names, "condition_names": _names,
                      "condition": Optional(Choice(("labels", "attributes")))})
_seed = Int(-(2**63), 2**64 - 1)
TRAIN_STATE_SCHEMA = Obj({
    "step": _count, "epoch": _count, "seed": _seed, "total_steps": _count, "steps_per_epoch": Int(1, 2**53),
    "world_size": Int(1, 1 << 16),
    "train_config": Obj({"epochs": Int(0, 10**7), "batch_size": Int(1, 1 << 20), "lr": Float(1e-30, 100.0),
                         "seed": _seed, "condition": Choice(("labels", "attributes")),
                         "checkpoint_every": Optional(_count), "event_interval": Float(0.0, 3600.0),
                         "check_every": Int(1, 2**53)}),
})
HISTORY_VALUE = (int, float, type(None))      # NaN and inf are allowed in a history: a plot drops them


class FormatProblem(Exception):
    """A problem found inside a file; public functions re-raise it as CheckpointError naming the file."""


def checked_size(path: Path) -> int:
    """Size of a regular, non-empty file, or CheckpointError (missing, a folder, a device, a FIFO, empty)."""
    size = regular_file_size(path, CheckpointError, "checkpoint file")
    if size == 0:
        raise CheckpointError(f"{shown(path)} is empty")
    return size


def _read_prefix(path: Path, n: int, offset: int = 0) -> bytes:
    """n bytes at offset of a file checked_size accepted; opened non-blocking and checked again, so a
    file swapped for a FIFO after the stat cannot hang us."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise CheckpointError(f"{shown(path)}: cannot read it ({e.strerror or e})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CheckpointError(f"{shown(path)} is not a regular file")
        return os.pread(fd, n, offset)
    except OSError as e:
        raise CheckpointError(f"{shown(path)}: cannot read it ({e.strerror or e})") from None
    finally:
        os.close(fd)


def sniff_bytes(head: bytes, size: int) -> str:
    """'safetensors' | 'pytorch-zip' | 'pickle' | 'unknown' from a file's first bytes and its size."""
    if len(head) >= 10:
        n = int.from_bytes(head[:8], "little")
        if 2 <= n <= MAX_HEADER_BYTES and 8 + n <= size and head[8:9] == b"{":
            return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        return "pytorch-zip"            # torch.save's default since 1.6 is a zip archive
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return "pickle"                 # PROTO opcode: pickle protocols 2-5, torch's legacy format
    if head[:1] in (b"(", b"}", b"]", b")", b"c", b"N", b"I", b"L", b"S", b"V", b"F", b"i"):
        # protocol 0/1 pickles start with a printable opcode; count opcodes that decode (nothing runs)
        decoded = 0
        try:
            for _ in pickletools.genops(io.BytesIO(head)):
                decoded += 1
                if decoded >= 3:
                    break
        except Exception:  # noqa: BLE001, S110 -- any decoding error just means "not a pickle"
            pass
        if decoded >= 3:
            return "pickle"
    return "unknown"


def sniff_format(path) -> str:
    """What a file is by its first bytes, never by its extension."""
    path = Path(path)
    size = checked_size(path)
    return sniff_bytes(_read_prefix(path, SNIFF_BYTES), size)


def read_header(path) -> dict:
    """The validated safetensors header: tensor entries plus "__metadata__" (str -> str), no tensor read."""
    path = Path(path)
    size = checked_size(path)
    head = _read_prefix(path, SNIFF_BYTES)
    kind = sniff_bytes(head, size)
    if kind in ("pytorch-zip", "pickle"):
        raise CheckpointError(PICKLE_MESSAGE.format(file=path))
    try:
        if size < 8:
            raise FormatProblem(f"file is {size} bytes, too short for a safetensors header")
        n = int.from_bytes(head[:8], "little")
        if n <= 1:
            raise FormatProblem(f"header length {n} is too small (not a safetensors file?)")
        if n > MAX_HEADER_BYTES:
            raise FormatProblem(f"header length {n} exceeds the {MAX_HEADER_BYTES} byte limit "
                                "(not a safetensors file?)")
        if 8 + n > size:
            raise FormatProblem(f"header length {n} runs past the end of the {size} byte file (truncated?)")
        raw = _read_prefix(path, n, 8)
        if len(raw) != n:
            raise FormatProblem("file shrank while being read")
        header = parse_header_json(raw)
        validate_entries(header, size - 8 - n)
    except FormatProblem as e:
        if kind == "unknown":       # not even the start of a safetensors file: say that first
            raise CheckpointError(f"{shown(path)} is not a safetensors file ({_looks_like(head)})\n"
                                  f"details: {e}") from None
        raise CheckpointError(f"{path}: {e}") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read it ({e.strerror or e})") from None
    header.setdefault("__metadata__", {})
    return header


def _looks_like(head: bytes) -> str:
    """What a file that is not a checkpoint seems to hold, from its first bytes, in a few words."""
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "it is an image"
    if head.startswith(b"\x93NUMPY"):
        return "it is a NumPy .npy array"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ")):
        return "it is a compressed archive"
    if head.startswith(b"\x89HDF"):
        return "it is an HDF5 file (Keras?)"
    try:      # incremental: a character cut at the 512th byte is not an error
        text = codecs.getincrementaldecoder("utf-8")().decode(head[:512], final=False)
    except UnicodeDecodeError:
        text = ""
    if not text or any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return "its first bytes are not a safetensors header"
    if text.lstrip().startswith(("{", "[")):
        return "it is JSON text"
    return "it is a text file"


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise FormatProblem(f"header repeats the key {key[:80]!r}")
        seen[key] = value
    return seen


def parse_header_json(raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as e:   # JSONDecodeError, UnicodeDecodeError, huge ints
        raise FormatProblem(f"header is not valid JSON ({str(e)[:120]})") from None
    if not isinstance(header, dict):
        raise FormatProblem(f"header is a JSON {type(header).__name__}, not an object")
    return header


def validate_entries(header: dict, data_len: int) -> None:
    """Each tensor: allowed dtype, sane shape, byte count = numel * itemsize; together they tile the data."""
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):   # keys: JSON
        raise FormatProblem("__metadata__ must map strings to strings")
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not name:
            raise FormatProblem("a tensor has an empty name")
        label = f"tensor {name[:80]!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise FormatProblem(f"{label}: entry must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
            raise FormatProblem(f"{label}: dtype {str(dtype)[:20]!r} is not one of {', '.join(DTYPE_SIZES)}")
        if not isinstance(shape, list) or len(shape) > MAX_RANK or not all(_is_count(d) for d in shape):
            raise FormatProblem(f"{label}: shape must be a list of at most {MAX_RANK} non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
            raise FormatProblem(f"{label}: data_offsets must be two non-negative integers")
        begin, end = offsets
        if begin > end:
            raise FormatProblem(f"{label}: data_offsets [{begin}, {end}] run backwards")
        if end > data_len:
            raise FormatProblem(f"{label}: data_offsets end {end} lies past the {data_len} byte data region")
        numel = 1
        for d in shape:
            numel *= d
        if numel * DTYPE_SIZES[dtype] != end - begin:
            raise FormatProblem(f"{label}: shape {_short(shape)} of {dtype} needs "
                                f"{numel * DTYPE_SIZES[dtype]} bytes, data_offsets give {end - begin}")
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin < position:
            raise FormatProblem(f"tensor {name[:80]!r} overlaps the tensor before it")
        if begin > position:
            raise FormatProblem(f"a gap of {begin - position} bytes lies before tensor {name[:80]!r}")
        position = end
    if position != data_len:
        raise FormatProblem(f"{data_len - position} trailing bytes after the last tensor")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _short(shape: list) -> str:
    text = str(shape)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_metadata(meta: dict) -> dict:
    """Latent Atlas metadata -> {"format_version", "kind", "config_json", and each JSON field parsed}."""
    found = meta.get("format")
    if found is None:
        raise FormatProblem("not a Latent Atlas checkpoint: its metadata has no format field")
    if found != FORMAT_NAME:
        raise FormatProblem(f"not a Latent Atlas checkpoint: metadata format is {found[:40]!r}")
    version = meta.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        raise FormatProblem(f"format_version {str(version)[:20]!r} is not supported (this program reads "
                            f"{', '.join(SUPPORTED_VERSIONS)}); update Latent Atlas")
    kind = meta.get("kind")
    if not isinstance(kind, str) or not kind:
        raise FormatProblem("metadata has no model kind")
    parsed = {"format_version": version, "kind": kind[:100]}
    for key, (expected, cap) in JSON_FIELDS.items():
        text = meta.get(key)
        if text is None:
            if key == "config":
                raise FormatProblem("metadata has no config")
            parsed[key] = {}
            continue
        if len(text) > cap:
            raise FormatProblem(f"metadata {key} is {len(text)} characters, over the {cap} limit")
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise FormatProblem(f"metadata {key} is not valid JSON ({str(e)[:120]})") from None
        if not isinstance(value, expected):
            raise FormatProblem(f"metadata {key} must be a JSON object, got {type(value).__name__}")
        parsed[key] = value
    for name, values in parsed["history"].items():
        if not isinstance(values, list):
            raise FormatProblem(f"metadata history {name[:40]!r} must be a list, got {type(values).__name__}")
        if not all(type(v) in HISTORY_VALUE for v in values):
            raise FormatProblem(f"metadata history {name[:40]!r} must be a list of numbers")
    if len(parsed["vectors"]) > MAX_VECTORS:
        raise FormatProblem(f"metadata vectors describes {len(parsed['vectors']):,} vectors, over the "
                            f"limit of {MAX_VECTORS:,}")
    for name, info in parsed["vectors"].items():
        if len(name) > MAX_VECTOR_NAME:
            raise FormatProblem(f"a vector name is {len(name):,} characters long, over the limit of "
                                f"{MAX_VECTOR_NAME}")
        if not isinstance(info, dict):
            raise FormatProblem(f"metadata vectors {name[:40]!r} must be an object")
        if not isinstance(info.get("description", ""), str):
            raise FormatProblem(f"metadata vectors {name[:40]!r}: the description must be a string")
    for key, schema in (("dataset", DATASET_SCHEMA), ("train_state", TRAIN_STATE_SCHEMA)):
        try:
            schema.check(parsed[key], f"metadata {key}")
        except SchemaProblem as e:
            raise FormatProblem(str(e)) from None
    return parsed


def check_metadata_fits(key: str, value: dict) -> None:
    """Before training writes a file: metadata `key` as JSON fits its limit, so the checkpoint written at
    the end is one that its own loader opens (a table of 10^6 attribute columns once did not)."""
    text = json.dumps(value, default=str)
    cap = JSON_FIELDS[key][1]
    if len(text) > cap:
        raise FormatProblem(f"its {key} description would be {len(text):,} characters in the checkpoint, "
                            f"over the {cap:,} limit (too many names?)")
    schema = {"dataset": DATASET_SCHEMA, "train_state": TRAIN_STATE_SCHEMA}.get(key)
    if schema is not None:
        try:
            schema.check(json.loads(text), key)
        except SchemaProblem as e:
            raise FormatProblem(str(e)) from None


def check_tensor_names(header: dict) -> None:
    for name in header:
        if name != "__metadata__" and not name.startswith(TENSOR_PREFIXES):
            raise FormatProblem(f"unexpected tensor {name[:80]!r} (names start with "
                                f"{', '.join(TENSOR_PREFIXES)})")
        if len(name) > MAX_TENSOR_NAME or name.startswith("vector.") and len(name) > 7 + MAX_VECTOR_NAME:
            raise FormatProblem(f"a tensor name is {len(name):,} characters long, over the limit of "
                                f"{MAX_VECTOR_NAME if name.startswith('vector.') else MAX_TENSOR_NAME}")


def check_tensor_budgets(header: dict, model_shapes: dict[str, list], latent_dim: int) -> None:
    """Every tensor besides the weights, from the header alone, before anything is read: vectors are
    (latent_dim,), RNG states small 1-D bytes, optimiser state tensors scalars or shaped like a parameter,
    and all of the optimiser state together a few times the weights."""
    weight_bytes = sum(_numel(s) * 4 for s in model_shapes.values())
    param_shapes = {tuple(s) for s in model_shapes.values()}
    vectors = rng = optim_bytes = 0
    for name, entry in header.items():
        shape = entry["shape"] if name != "__metadata__" else None
        if name.startswith("vector."):
            vectors += 1
            if shape != [latent_dim] or entry["dtype"] not in FLOAT_DTYPES:
                raise FormatProblem(f"vector {name[7:47]!r} is {entry['dtype']} {_short(shape)}, the latent "
                                    f"is [{latent_dim}] floats")
        elif name.startswith("rng."):
            rng += 1
            if entry["dtype"] != "U8" or len(shape) != 1 or shape[0] > MAX_RNG_BYTES:
                raise FormatProblem(f"RNG state {name[:80]!r} is {entry['dtype']} {_short(shape)}; a generator "
                                    f"state is at most {MAX_RNG_BYTES:,} bytes (U8, 1-D)")
        elif name.startswith("optim."):
            if shape and tuple(shape) not in param_shapes:
                raise FormatProblem(f"optimizer tensor {name[:80]!r} has shape {_short(shape)}, which no "
                                    "parameter of the model has")
            optim_bytes += entry["data_offsets"][1] - entry["data_offsets"][0]
    if vectors > MAX_VECTORS:
        raise FormatProblem(f"it holds {vectors:,} vectors, over the limit of {MAX_VECTORS:,}")
    if rng > MAX_RNG_STATES:
        raise FormatProblem(f"it holds {rng:,} RNG states, over the limit of {MAX_RNG_STATES:,}")
    if optim_bytes > OPTIM_BYTES_PER_WEIGHT_BYTE * weight_bytes + (1 << 20):
        raise FormatProblem(f"its optimizer state is {optim_bytes:,} bytes, more than "
                            f"{OPTIM_BYTES_PER_WEIGHT_BYTE} times the model's {weight_bytes:,} bytes of weights")


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def describe_mismatch(file_entries: dict, model_entries: dict, limit: int = 10) -> str | None:
    """Compare name -> (shape list, is_float) of a file against a model; None when they fit."""
    problems = []
    for key in model_entries.keys() & file_entries.keys():
        (fshape, ffloat), (mshape, mfloat) = file_entries[key], model_entries[key]
        if list(fshape) != list(mshape):
            problems.append(f"{key}: file {_short(list(fshape))}, model {list(mshape)}")
        elif ffloat != mfloat:
            problems.append(f"{key}: file holds {'floats' if ffloat else 'integers'}, model expects "
                            f"{'floats' if mfloat else 'integers'}")
    parts = []
    if problems:
        parts.append("; ".join(_first(sorted(problems), limit)))
    missing = sorted(model_entries.keys() - file_entries.keys())
    unexpected = sorted(file_entries.keys() - model_entries.keys())
    if missing:
        parts.append("missing from the file: " + ", ".join(_first(missing, limit)))
    if unexpected:
        parts.append("not in the model: " + ", ".join(_first([k[:80] for k in unexpected], limit)))
    return "; ".join(parts) or None


def _first(items: list[str], limit: int) -> list[str]:
    return items if len(items) <= limit else items[:limit] + [f"and {len(items) - limit} more"]
