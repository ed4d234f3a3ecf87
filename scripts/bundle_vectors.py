"""Writes the bundled models' saved vectors: for every class and attribute of a model's data, the direction
that scores best in `latent-atlas directions` (models/quality/direction_report.py: mean difference,
classifier normal, the nearest PCA and SeFa directions, on the same held-out images), kept only when it
beats both the unedited images and the random control by MARGIN. The vector is the unit direction times the
step it was scored at (the distance between the group means), so weight 1 in the editor is the scored edit.

Run: OMP_NUM_THREADS=1 python scripts/bundle_vectors.py [--dry-run] [--only fashion_vae ...]

Only the vectors change: the file is rewritten by the checkpoint writer (checkpoint.save_vectors) into a copy
first, and the copy replaces the file only if every tensor and every metadata entry but "vectors" is equal.
Emoji files are never touched (they are trained into resources/ by another run).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_vectors
from latent_atlas.models.checkpoints.header import read_header
from latent_atlas.models.quality.direction_report import compare_directions

MODELS = ("fashion_vae", "fashion_cvae", "fashion_gan", "shapes_betavae")
CANDIDATES = ("mean", "classifier", "pca", "sefa")
LABELS = {"mean": "mean difference", "classifier": "classifier normal", "pca": "PCA", "sefa": "SeFa"}
MARGIN = 0.05     # a shipped direction's hit rate beats the unedited images and the random control by this


def _names(path: Path) -> list[str]:
    info = load_checkpoint(path).dataset or {}
    return list(info.get("label_names") or []) + list(info.get("attribute_names") or [])


def best_vector(path: Path, name: str, limit: int, fit: int):
    """(vector entry, table line) for the best direction of one attribute, or (None, why none ships)."""
    c = compare_directions(path, name, limit=limit, fit=fit)
    scored = {r.method: r for r in c.rows if r.score is not None}
    before = next(iter(scored.values())).score.hit_rate_before
    control = scored["random"].score.hit_rate if "random" in scored else 0.0
    ranked = sorted((r for m, r in scored.items() if m in CANDIDATES),
                    key=lambda r: (-r.score.hit_rate, r.score.others_changed))
    best = ranked[0]
    s = best.score
    line = (f"{path.stem}, {name}: {best.method} {best.direction.name} hit {s.hit_rate:.3f} (before {before:.3f}, "
            f"random {control:.3f}), others {s.others_changed:.3f}, off data {s.off_data:.3f}, step {c.step:.3f}")
    if s.hit_rate < max(before, control) + MARGIN:
        return None, line + ": not shipped (no direction beats no edit and the random control)"
    description = (f"{name}: the best-scoring direction of `latent-atlas directions` ({LABELS[best.method]}, "
                   f"{best.direction.note or best.direction.name}); walking {c.walked}: hit rate {s.hit_rate:.2f} (before {before:.2f}), others changed "
                   f"{s.others_changed:.2f}, off data {s.off_data:.2f}; weight 1 is the scored step {c.step:.2f}")
    vector = torch.from_numpy(best.direction.vector.astype(np.float32) * np.float32(c.step))
    return (f"{name} ({LABELS[best.method]})", {"vector": vector, "description": description}), line


def _everything_but_vectors(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open

    header = read_header(path)
    meta = {k: v for k, v in header["__metadata__"].items() if k != "vectors"}
    with safe_open(str(path), "pt") as f:
        tensors = {n: f.get_tensor(n) for n in f.keys() if not n.startswith("vector.")}
    return tensors, meta


def write_vectors(path: Path, vectors: dict) -> None:
    """Rewrites `path` with `vectors` only if nothing else in it changes (checked on a copy first)."""
    tensors, meta = _everything_but_vectors(path)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        save_vectors(copy, vectors)
        new_tensors, new_meta = _everything_but_vectors(copy)
        same = (new_meta == meta and new_tensors.keys() == tensors.keys()
                and all(new_tensors[n].dtype == t.dtype and torch.equal(new_tensors[n], t) for n, t in tensors.items()))
        if not same:
            raise SystemExit(f"{path}: rewriting the vectors changed something else; the file is left as it was")
        loaded = load_checkpoint(copy).vectors
        assert set(loaded) == set(vectors), (sorted(loaded), sorted(vectors))
        os.replace(copy, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", choices=MODELS, default=list(MODELS))
    p.add_argument("--limit", type=int, default=1000, help="held-out images walked (as the directions command)")
    p.add_argument("--fit", type=int, default=2000, help="training images the directions are fitted on")
    p.add_argument("--dry-run", action="store_true", help="print the choices, write nothing")
    args = p.parse_args(argv)
    report = {}
    for stem in args.only:
        path = resource_path("models", f"{stem}.safetensors")
        vectors, lines = {}, []
        for name in _names(path):
            entry, line = best_vector(path, name, args.limit, args.fit)
            print(line, flush=True)
            lines.append(line)
            if entry is not None:
                vectors[entry[0]] = entry[1]
        report[stem] = {"shipped": sorted(vectors), "lines": lines}
        if not vectors and not load_checkpoint(path).vectors:
            print(f"{path}: no vector ships, none stored: left as it is", flush=True)
        elif not args.dry_run:
            write_vectors(path, vectors)
            print(f"{path}: {len(vectors)} vectors written", flush=True)
    print(json.dumps({k: v["shipped"] for k, v in report.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
