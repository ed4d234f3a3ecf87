"""Kept projection fits (editor/core/projection_store.py): a 10,000-point t-SNE map fitted once, then from
memory and, in the next session, from the cache folder; and the t-SNE placement of new latents on it.

    python -m bench.bench_kept_fits [--runs 5]

The bundled Fashion-MNIST VAE's test split (10,000 posterior means, 16-d), openTSNE in the editor's child
process with its defaults (1,000 iterations). A fresh cache folder under /tmp, so nothing of the user's is read
or written. Prints and writes bench/results/kept_fits.json: the fit, a read back from disk (median of runs, each
a new store, as a new session), a memory hit, and placing 1 and 4 latents (median of runs).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from bench.machine import write_results


def med(values) -> float:
    return float(np.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ["LATENT_ATLAS_CACHE"] = tempfile.mkdtemp(prefix="latent-atlas-bench-")
    import torch

    from latent_atlas.editor.core.bundled import MODELS_DIR
    from latent_atlas.editor.core.loaded_model import load_for_editor
    from latent_atlas.editor.core.projection_store import ProjectionStore, fit_key

    torch.set_num_threads(1)
    loaded = load_for_editor(MODELS_DIR / "fashion_vae.safetensors", device=torch.device("cpu"), map_limit=10_000)
    Z = loaded.latents
    key = fit_key(loaded.sha256, Z, "tsne", {})
    t0 = time.perf_counter()
    fitted = ProjectionStore().get_or_fit(key, "tsne", {}, Z, fit_options={"in_subprocess": True})
    fit_s = time.perf_counter() - t0
    disk, memory = [], []
    for _ in range(args.runs):
        store = ProjectionStore()
        t0 = time.perf_counter()
        again = store.get_or_fit(key, "tsne", {}, Z)
        disk.append(time.perf_counter() - t0)
        assert store.fits_made == 0 and np.array_equal(again.embedding, fitted.embedding)
        t0 = time.perf_counter()
        store.known(key)
        memory.append(time.perf_counter() - t0)
    rng = np.random.default_rng(0)
    place = {1: [], 4: []}
    for m in place:
        for _ in range(args.runs):
            i, j = rng.integers(0, len(Z), m), rng.integers(0, len(Z), m)
            t0 = time.perf_counter()
            again.transform(0.5 * (Z[i] + Z[j]))
            place[m].append(time.perf_counter() - t0)
    print(f"t-SNE of {len(Z)} latents: fit {fit_s:.1f} s; from disk (new session) median {med(disk):.2f} s "
          f"({min(disk):.2f}-{max(disk):.2f}); from memory {med(memory) * 1e6:.0f} us")
    print(f"placing 1 latent: {med(place[1]) * 1e3:.1f} ms, 4 latents: {med(place[4]) * 1e3:.1f} ms (median of "
          f"{args.runs})")
    write_results("kept_fits", {"n": len(Z), "fit_s": fit_s, "disk_s": disk, "memory_s": memory,
                                "place_1_s": place[1], "place_4_s": place[4]})


if __name__ == "__main__":
    main()
