"""Fuzz the loaders of untrusted files with seeded random mutations of valid inputs.

Every input must give a result or the loader's typed error (CheckpointError, DatasetError: both
LatentAtlasError), never another exception, and must finish within a time limit. Failures are saved as
reproducer files under --failures (default /tmp/latent_atlas_fuzz) with the traceback beside them.

    python scripts/fuzz_loaders.py --total 12000 --seed 0

Targets: models.checkpoint.load_checkpoint (byte flips, truncations, header JSON edits, metadata values),
models.data.idx.read_idx, models.data.attributes.read_attribute_table, and the image-folder loader on mutated
PNG / JPEG / GIF / BMP bytes. The schema doors (recipes, sessions, vector files, checkpoint metadata) are fuzzed
structurally with hypothesis by scripts/fuzz_schemas.py; `--schemas` runs that fuzz after this one (its own
code, called from here), so one command covers every kind:

    python scripts/fuzz_loaders.py --total 12000 --schemas          # + 1,300 structural inputs per schema
    python scripts/fuzz_loaders.py --total 0 --schemas 200           # the schema fuzz alone, 200 per schema
"""
from __future__ import annotations

import argparse
import io
import json
import random
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TIME_LIMIT_S = 5.0
INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFE]
ODD_VALUES = [None, True, -1, 0, 1, 2**31, 2**63, 2**64 + 7, -(2**63), 1e308, -1e308, 1.5, "", "x", "NaN",
              "Infinity", "-1", "1e9", [], [1], [2**40, 2**40], [-1, 4], {}, {"a": 1}, "F32", "I64", "BOOL",
              "\u0000", "é" * 50, "[" * 50, "9" * 400]


class FuzzTimeout(Exception):
    """Raised by the alarm when one input runs past the time limit."""


@dataclass
class Target:
    name: str
    suffix: str
    seeds: list[bytes]                       # valid inputs to mutate
    load: Callable[[Path], object]           # raises the typed error or returns something checked
    extra: list[Callable[[random.Random, bytes], bytes]] = field(default_factory=list)


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)     # reproducer paths
    slowest: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# -- generic byte mutations -----------------------------------------------------------------------------
def flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if out:
            out[rng.randrange(len(out))] ^= rng.randint(1, 255)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def overwrite(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    if out:
        i = rng.randrange(len(out))
        width = rng.choice([1, 2, 4, 8])
        out[i:i + width] = bytes([rng.choice(INTERESTING)]) * width
    return bytes(out)


def splice(rng: random.Random, data: bytes) -> bytes:
    """Delete, duplicate or insert a range."""
    if not data:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randint(1, 64))
    choice = rng.randrange(3)
    if choice == 0:
        return data[:i] + data[j:]
    if choice == 1:
        return data[:j] + data[i:j] + data[j:]
    return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 32))) + data[i:]


GENERIC = [flip, flip, truncate, overwrite, splice]


def mutate(rng: random.Random, target: Target, base: bytes) -> bytes:
    ops = GENERIC + target.extra
    data = base
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        data = rng.choice(ops)(rng, data)
    return data


# -- checkpoint-aware mutations ---------------------------------------------------------------------------
def _split_safetensors(data: bytes):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def _join_safetensors(header: dict, body: bytes, rng: random.Random) -> bytes:
    raw = json.dumps(header).encode()
    length = len(raw) if rng.random() < 0.9 else rng.choice([0, len(raw) - 1, len(raw) + 1, 2**40])
    return struct.pack("<Q", length) + raw + body


def _random_path(rng: random.Random, node, depth=0):
    """A (container, key) inside a JSON tree, chosen at random."""
    if isinstance(node, dict) and node and (depth == 0 or rng.random() < 0.7):
        key = rng.choice(list(node))
        child = node[key]
        if isinstance(child, (dict, list)) and child and rng.random() < 0.6:
            return _random_path(rng, child, depth + 1) or (node, key)
        return node, key
    if isinstance(node, list) and node:
        key = rng.randrange(len(node))
        child = node[key]
        if isinstance(child, (dict, list)) and child and rng.random() < 0.6:
            return _random_path(rng, child, depth + 1) or (node, key)
        return node, key
    return None


def edit_header(rng: random.Random, data: bytes) -> bytes:
    try:
        header, body = _split_safetensors(data)
    except Exception:  # noqa: BLE001 -- an earlier mutation broke the header: mutate bytes instead
        return flip(rng, data)
    found = _random_path(rng, header)
    if found is not None:
        container, key = found
        if rng.random() < 0.15 and isinstance(container, dict):
            del container[key]
        else:
            container[key] = rng.choice(ODD_VALUES)
    return _join_safetensors(header, body, rng)


def edit_metadata(rng: random.Random, data: bytes) -> bytes:
    """Replace one metadata value (a JSON string) with an edited JSON document or garbage."""
    try:
        header, body = _split_safetensors(data)
        meta = header["__metadata__"]
    except Exception:  # noqa: BLE001
        return flip(rng, data)
    if not isinstance(meta, dict) or not meta:   # an earlier edit replaced it
        return flip(rng, data)
    key = rng.choice(list(meta))
    try:
        doc = json.loads(meta[key])
    except ValueError:
        doc = meta[key]
    found = _random_path(rng, doc) if isinstance(doc, (dict, list)) else None
    if found is not None and rng.random() < 0.8:
        container, k = found
        container[k] = rng.choice(ODD_VALUES)
        meta[key] = json.dumps(doc)
    else:
        meta[key] = rng.choice(["", "{", "null", "[]", "1", '"s"', json.dumps(rng.choice(ODD_VALUES)), "x" * 1000])
    return _join_safetensors(header, body, rng)


# -- targets ---------------------------------------------------------------------------------------------
def checkpoint_target() -> Target:
    import torch

    from latent_atlas.models import registry
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint

    seeds = []
    with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        for kind, cfg in (("vae", {"arch": "mlp", "image_shape": [1, 4, 4], "latent_dim": 2, "hidden": 8}),
                          ("cvae", {"arch": "mlp", "image_shape": [1, 4, 4], "latent_dim": 2, "hidden": 8,
                                    "cond_dim": 2}),
                          ("cvae", {"arch": "mlp", "image_shape": [1, 4, 4], "latent_dim": 2, "hidden": 8,
                                    "cond_dim": 2, "width": 4, "consistency": 1.0})):
            model = registry.build_model(kind, registry.make_config(kind, cfg))
            opts = model.make_optimizers(1e-3)
            c = torch.eye(2) if kind == "cvae" else None
            model.train_step(torch.rand(2, 1, 4, 4), c, opts)
            path = save_checkpoint(Path(folder) / f"{len(seeds)}_{kind}.safetensors", model, optimizers=opts,
                                   history={"step": [1], "loss": [2.5]}, rng_state={"torch": torch.get_rng_state()},
                                   vectors={"v": {"vector": torch.ones(2), "description": "d"}},
                                   dataset={"name": "x", "label_names": ["a", "b"]}, train_state={"step": 1})
            seeds.append(path.read_bytes())

    def load(path: Path):
        ckpt = load_checkpoint(path, with_optimizers=True)
        for t in ckpt.model.state_dict().values():
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise AssertionError("a checkpoint with non-finite weights was accepted")
        return ckpt

    return Target("checkpoint", ".safetensors", seeds, load, [edit_header, edit_header, edit_metadata])


def idx_target() -> Target:
    import gzip

    from latent_atlas.models.data.idx import read_idx

    images = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">III", 3, 4, 4) + bytes(range(48))
    labels = struct.pack(">BBBB", 0, 0, 8, 1) + struct.pack(">I", 5) + bytes([1, 2, 3, 4, 5])
    seeds = [images, labels, gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)]

    def edit_dims(rng: random.Random, data: bytes) -> bytes:
        if len(data) < 8 or data[:2] == b"\x1f\x8b":
            return flip(rng, data)
        i = 4 + 4 * rng.randrange(max(1, (min(len(data), 16) - 4) // 4))
        value = rng.choice([0, 1, 2**31, 2**32 - 1, 48, 49, rng.randrange(2**32)])
        return data[:i] + struct.pack(">I", value) + data[i + 4:]

    def load(path: Path):
        ndim = 3 if path.name.startswith("i") else 1
        arr = read_idx(path, ndim)
        if arr.dtype != np.uint8 or arr.ndim != ndim:
            raise AssertionError(f"read_idx returned {arr.dtype} {arr.shape}")
        return arr

    return Target("idx", ".idx", seeds, load, [edit_dims, edit_dims])


def attributes_target() -> Target:
    from latent_atlas.models.data.attributes import read_attribute_table

    celeba = "3\nSmiling Male Young\na.jpg 1 -1 1\nb.jpg -1 -1 1\nsub/c.png 1 1 -1\n"
    csv = "file,Smiling,Male\na.jpg,1,0\nb.jpg,+1,-1\n"
    seeds = [celeba.encode(), celeba.replace("\n", "\r\n").encode(), ("\ufeff" + csv).encode(), csv.encode()]

    def edit_token(rng: random.Random, data: bytes) -> bytes:
        words = data.split(b" ") if rng.random() < 0.5 else data.split(b",")
        if len(words) > 1:
            words[rng.randrange(len(words))] = rng.choice(
                [b"", b"2", b"+1", b"../x.jpg", b"/abs.jpg", b"a.jpg", b"99999999999999999999", b"\xff", b"\n",
                 b"\"", b"C:\\x.jpg", b"Smiling"])
        return (b" " if b" " in data else b",").join(words)

    def load(path: Path):
        names, table = read_attribute_table(path)
        for key, values in table.items():
            if values.shape != (len(names),) or ".." in key.split("/") or key.startswith("/"):
                raise AssertionError(f"bad row {key!r}: {values.shape}")
        return names

    return Target("attributes", ".txt", seeds, load, [edit_token, edit_token])


def image_target() -> Target:
    from PIL import Image

    from latent_atlas.models.data.image_folder import load_image_folder

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    seeds = []
    for fmt, image, kwargs in (
            ("PNG", Image.fromarray(rgb), {}),
            ("PNG", Image.fromarray(rgb).convert("P"), {}),
            ("PNG", Image.fromarray(rgb).convert("RGBA"), {}),
            ("PNG", Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), {}),
            ("JPEG", Image.fromarray(rgb), {"quality": 80}),
            ("JPEG", Image.fromarray(rgb), {"progressive": True}),
            ("JPEG", Image.fromarray(rgb).convert("CMYK"), {}),
            ("GIF", Image.fromarray(rgb).convert("P"), {}),
            ("BMP", Image.fromarray(rgb), {})):
        buf = io.BytesIO()
        image.save(buf, format=fmt, **kwargs)
        seeds.append(buf.getvalue())

    def load(path: Path):
        folder = path.parent / "folder"
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        ext = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"GIF8": ".gif", b"BM": ".bmp"}
        name = next((e for magic, e in ext.items() if path.read_bytes().startswith(magic)), ".png")
        (folder / f"x{name}").write_bytes(path.read_bytes())
        data = load_image_folder(folder, image_size=8)
        if data.images.shape[0] != 1 or data.images.shape[2:] != (8, 8) or data.images.dtype != np.uint8:
            raise AssertionError(f"image folder gave {data.images.dtype} {data.images.shape}")
        return data

    return Target("image", ".img", seeds, load)


TARGETS = {"checkpoint": checkpoint_target, "idx": idx_target, "attributes": attributes_target,
           "image": image_target}
SHARE = {"checkpoint": 0.4, "idx": 0.2, "attributes": 0.2, "image": 0.2}


# -- the loop --------------------------------------------------------------------------------------------
def _alarm(_signum, _frame):
    raise FuzzTimeout(f"over {TIME_LIMIT_S} s")


def fuzz_target(target: Target, n: int, seed: int, work: Path, failures: Path, report: Report,
                time_limit: float = TIME_LIMIT_S) -> None:
    from latent_atlas.models.errors import LatentAtlasError

    rng = random.Random(f"{target.name}-{seed}")
    use_alarm = hasattr(signal, "setitimer") and _on_main_thread()
    previous = signal.signal(signal.SIGALRM, _alarm) if use_alarm else None
    prefix = "i" if target.name == "idx" else "x"
    try:
        for i in range(n):
            base = target.seeds[i % len(target.seeds)]
            data = mutate(rng, target, base)
            # idx: the file name tells load() which ndim to ask for; labels are seeds 1 and 3
            name = f"{'l' if target.name == 'idx' and i % 2 else prefix}{target.suffix}"
            path = work / name
            path.write_bytes(data)
            problem = None
            start = time.perf_counter()
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, time_limit)
            try:
                target.load(path)
                report.accepted[target.name] = report.accepted.get(target.name, 0) + 1
            except LatentAtlasError:
                pass
            except Exception:  # noqa: BLE001 -- anything else is what we are looking for
                problem = traceback.format_exc()
            finally:
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            elapsed = time.perf_counter() - start
            report.slowest[target.name] = max(report.slowest.get(target.name, 0.0), elapsed)
            if problem is None and elapsed > time_limit:
                problem = f"took {elapsed:.1f} s (limit {time_limit} s)"
            report.counts[target.name] = report.counts.get(target.name, 0) + 1
            if problem is not None:
                failures.mkdir(parents=True, exist_ok=True)
                repro = failures / f"{target.name}-{seed}-{i}{target.suffix}"
                repro.write_bytes(data)
                repro.with_name(repro.name + ".txt").write_text(problem)
                report.failures.append(str(repro))
    finally:
        if use_alarm:
            signal.signal(signal.SIGALRM, previous)


def _on_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def run_fuzz(total: int, seed: int = 0, failures: Path = Path("/tmp/latent_atlas_fuzz"),
             targets: list[str] | None = None, time_limit: float = TIME_LIMIT_S) -> Report:
    """Fuzz each target with its share of `total` inputs; returns the counts and the reproducers."""
    import torch
    torch.set_num_threads(1)
    report = Report()
    names = targets or list(TARGETS)
    share = sum(SHARE[n] for n in names)
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        for name in names:
            work = Path(folder) / name
            work.mkdir()
            fuzz_target(TARGETS[name](), round(total * SHARE[name] / share), seed, work, failures, report,
                        time_limit)
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--total", type=int, default=12000, help="inputs over all targets")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--failures", type=Path, default=Path("/tmp/latent_atlas_fuzz"))
    p.add_argument("--target", action="append", choices=list(TARGETS), help="only these targets")
    p.add_argument("--schemas", type=int, nargs="?", const=1300, default=0, metavar="PER_KIND",
                   help="then the hypothesis fuzz of scripts/fuzz_schemas.py, PER_KIND inputs per schema (1300)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    report = run_fuzz(args.total, args.seed, args.failures, args.target)
    for name, count in report.counts.items():
        print(f"{name:11s} {count:6d} inputs, {report.accepted.get(name, 0):5d} accepted, "
              f"slowest {report.slowest.get(name, 0):.3f} s")
    print(f"total       {report.total:6d} inputs in {time.perf_counter() - start:.0f} s, "
          f"{len(report.failures)} failures")
    for repro in report.failures:
        print(f"FAILURE {repro} (traceback in {repro}.txt)")
    schema_failures = _schema_fuzz(args.schemas, args.seed) if args.schemas else 0
    return 1 if report.failures or schema_failures else 0


def _schema_fuzz(per_kind: int, seed: int) -> int:
    """Runs scripts/fuzz_schemas.py's fuzz (imported from beside this file); returns its failure count."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fuzz_schemas", Path(__file__).with_name("fuzz_schemas.py"))
    schemas = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(schemas)
    start = time.perf_counter()
    results = schemas.run(per_kind, seed)
    total = sum(s["inputs"] for s in results.values())
    failures = sum(len(s["failures"]) for s in results.values())
    print(f"schemas     {total:6d} inputs in {time.perf_counter() - start:.0f} s, {failures} failures")
    return failures


if __name__ == "__main__":
    sys.exit(main())
