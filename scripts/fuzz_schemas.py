"""Structural fuzzing of every schema door with hypothesis: recipes, sessions, vector files (JSON and .npy),
and a checkpoint's dataset / train_state / history / vectors metadata, each read through its real loader.

A valid document is mutated at one place (or replaced whole) by a hostile value: a wrong type, a huge or
non-finite number, a 5,000-digit literal, deep nesting, a long string, HTML. Every input must end in a
result or the project's LatentAtlasError family within the time limit; anything else is a failure.

    nice -n 10 python scripts/fuzz_schemas.py --per-kind 2000
"""
from __future__ import annotations

import argparse
import json
import resource
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

TIME_LIMIT_S = 5.0
HUGE, DEEP = "\x00huge\x00", "\x00deep\x00"      # markers swapped for raw JSON text after json.dumps
HTML = ["<img src='/dev/zero'>", "<b>bold</b>", "<a href='file:///etc/passwd'>x</a>", "&lt;&#0;"]
HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([2**63, -(2**63) - 1, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e300, -1e300, 3.5e38, 5e-324, 1e-40]),
    st.text(max_size=40), st.sampled_from(HTML), st.integers(1000, 2_000_000).map(lambda n: "x" * n),
    st.just(HUGE), st.just(DEEP), st.lists(st.integers(), max_size=6), st.lists(st.lists(st.text(max_size=3))),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=4),
    st.lists(st.floats(allow_nan=True), min_size=1000, max_size=3000),
)


class Timeout(Exception):
    pass


def paths(doc, prefix=()):
    """Every place in a JSON document, as a tuple of keys and indices."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:8]):
            yield from paths(v, (*prefix, i))


def mutated(doc, where: tuple, value, delete: bool):
    doc = json.loads(json.dumps(doc))
    if not where:
        return value
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    if delete:
        del parent[where[-1]]
    else:
        parent[where[-1]] = value
    return doc


def as_text(doc, depth: int) -> str:
    text = json.dumps(doc, allow_nan=True)
    return text.replace(json.dumps(HUGE), "9" * 5000).replace(json.dumps(DEEP), "[" * depth + "]" * depth)


def json_docs(base):
    where = st.sampled_from(list(paths(base)))
    return st.tuples(where, HOSTILE, st.booleans(), st.integers(10, 200_000)).map(
        lambda t: as_text(mutated(base, t[0], t[1], delete=bool(t[0]) and t[2] and isinstance(t[1], bool)), t[3]))


def npy_bytes():
    dtypes = st.one_of(hnp.scalar_dtypes(), hnp.unicode_string_dtypes(max_len=4), hnp.byte_string_dtypes(max_len=4))
    arrays = hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=8))

    def saved(a):
        import io
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        return buf.getvalue()

    def header(shape, descr, tail):
        h = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
        h += b" " * (63 - (10 + len(h)) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + tail

    claims = st.builds(header, st.sampled_from(["(10**12, 4)", "(0, 4)", "(2, 4)", "(-1, 4)", "()", "(4,)",
                                                "(2**62, 2**62)", "'x'", "(" + "1," * 5000 + ")"]),
                       st.sampled_from(["<f4", "<f8", "|O", "<c8", "<M8[s]", "<U2", "V8", "x"]),
                       st.binary(max_size=64))
    rows = hnp.arrays(st.sampled_from([np.float16, np.float32, np.float64]),       # the shape a loader takes
                      st.tuples(st.integers(1, 3), st.just(4)) | st.just((4,)),
                      elements=st.floats(allow_nan=True, allow_infinity=True, width=16)
                      | st.sampled_from([1e300, -3.5e38, 1e-40, 0.0, 1.0]))
    return st.one_of(arrays.map(saved), rows.map(saved), claims, st.binary(max_size=200))


def doors(folder: Path):
    """kind -> (strategy of file bytes or text, loader taking the written file)."""
    import torch

    from latent_atlas.editor.core.attributes import VECTORS_FORMAT, load_vectors_file
    from latent_atlas.editor.core.recipe import read_recipe
    from latent_atlas.editor.core.session import read_session
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint
    from latent_atlas.models.config import VAEConfig
    from latent_atlas.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("vae", VAEConfig(image_shape=(1, 8, 8), latent_dim=4, width=16, hidden=64))
    ckpt = save_checkpoint(
        folder / "base.safetensors", model,
        dataset={"name": "digits", "source": "digits", "n": 1797, "image_shape": [1, 8, 8],
                 "label_names": [str(i) for i in range(10)]},
        history={"step": [1, 2], "loss": [0.5, 0.4]},
        train_state={"step": 10, "epoch": 1, "seed": 0, "total_steps": 20, "steps_per_epoch": 10, "world_size": 1,
                     "train_config": {"epochs": 2, "batch_size": 64, "lr": 1e-3, "seed": 0, "condition": "labels",
                                      "checkpoint_every": None, "event_interval": 0.5, "check_every": 50}})
    raw = ckpt.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header, body = json.loads(raw[8:8 + n]), raw[8 + n:]
    meta = header["__metadata__"]
    recipe = {"format": "latent-atlas-recipe", "version": 1, "checkpoint": str(ckpt), "latent": [0.1, 0.2, 0.3, 0.4],
              "edits": [{"name": "v", "weight": 0.5, "vector": [1, 0, 0, 0]}], "frames": [[0, 0, 0, 0], [1, 1, 1, 1]]}
    session = {"format": "latent-atlas-session", "version": 1, "checkpoint": str(ckpt), "latent_dim": 4,
               "cond_dim": 0, "point": {"base": [0.1, 0.2, 0.3, 0.4], "cursor": None, "data_index": 3,
                                        "source": "data"},
               "vectors": [{"name": "v", "weight": 0.5, "vector": [1.0, 0.0, 0.0, 0.0]}],
               "projection": {"method": "pca", "options": {"components": [0, 1]}},
               "panels": {"attributes": {"picked": "v"}, "interpolation": {"waypoints": [[0, 0, 0, 0]]}}}
    vectors = {"format": VECTORS_FORMAT, "version": 1, "latent_dim": 4,
               "vectors": [{"name": "v", "vector": [1.0, 0.0, 0.0, 0.0]}]}

    def checkpoint_with(key):
        base = json.loads(meta[key])

        def write(text):
            h = dict(header, __metadata__={**meta, key: text})
            h = json.dumps(h).encode()
            return struct.pack("<Q", len(h)) + h + body
        return json_docs(base).map(lambda text: (f"{key}={text[:200]}", write(text)))

    def vectors_door(suffix):
        return lambda path: load_vectors_file(path.rename(path.with_suffix(suffix)), 4)

    import io
    npy = io.BytesIO()
    np.save(npy, np.eye(2, 4, dtype=np.float32))
    return {      # kind -> (hostile inputs, loader, the valid input they mutate: it must load)
        "recipe": (json_docs(recipe), read_recipe, json.dumps(recipe)),
        "session": (json_docs(session), read_session, json.dumps(session)),
        "vectors.json": (json_docs(vectors), vectors_door(".json"), json.dumps(vectors)),
        "vectors.npy": (npy_bytes(), vectors_door(".npy"), npy.getvalue()),
        **{f"checkpoint.{key}": (checkpoint_with(key), load_checkpoint, raw)
           for key in ("dataset", "train_state", "history", "vectors")},
    }


def fuzz_kind(kind, strategy, loader, folder: Path, n: int, seed: int) -> dict:
    from latent_atlas.models.errors import LatentAtlasError

    stats = {"inputs": 0, "accepted": 0, "failures": [], "slowest": (0.0, "")}
    path = folder / f"input.{kind}"

    def on_alarm(signum, frame):
        raise Timeout(f"over {TIME_LIMIT_S} s")

    @settings(max_examples=n, database=None, deadline=None, derandomize=seed == 0,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(content):
        label, content = content if isinstance(content, tuple) else (content, content)
        for old in folder.glob("input.*"):
            old.unlink()
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
        stats["inputs"] += 1
        start = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
        try:
            loader(path)
            stats["accepted"] += 1
        except LatentAtlasError:
            pass
        except Exception as e:      # noqa: BLE001 -- a crash or a hang is what we look for
            stats["failures"].append((type(e).__name__, str(e)[:200], label[:300],
                                      traceback.format_exc(limit=3)[-600:]))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        took = time.perf_counter() - start
        if took > stats["slowest"][0]:
            stats["slowest"] = (took, label[:160])

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)    # 1e300 cast into a float16 array, on purpose
            one()
    finally:
        signal.signal(signal.SIGALRM, previous)
    return stats


def run(per_kind: int, seed: int = 0, kinds: list[str] | None = None, out=sys.stdout) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind, (strategy, loader, valid) in doors(folder).items():
            if kinds and kind not in kinds:
                continue
            path = folder / f"valid.{kind}"
            path.write_bytes(valid if isinstance(valid, bytes) else valid.encode())
            loader(path)           # the control: the unmutated input loads, so refusals are the mutations'
            for old in folder.glob("valid.*"):
                old.unlink()
            stats = fuzz_kind(kind, strategy, loader, folder, per_kind, seed)
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            took, what = stats["slowest"]
            print(f"{kind:24s} inputs {stats['inputs']:6d}  accepted {stats['accepted']:5d}  failures {len(stats['failures']):3d}  "
                  f"peak RSS so far {peak_mb:7.0f} MB  slowest {took * 1000:7.1f} ms: {what!r:.90}", file=out)
            for name, message, content, tb in stats["failures"][:3]:
                print(f"    {name}: {message}\n    input: {content!r:.200}\n{tb}", file=out)
            results[kind] = stats
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-kind", type=int, default=1300, help="inputs per kind (8 kinds)")
    p.add_argument("--seed", type=int, default=0, help="0: hypothesis derandomised; else random")
    p.add_argument("--kind", action="append", help="only this kind (repeatable)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    results = run(args.per_kind, args.seed, args.kind)
    total = sum(s["inputs"] for s in results.values())
    failures = sum(len(s["failures"]) for s in results.values())
    print(f"total: {total} inputs, {failures} failures, {time.perf_counter() - start:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
