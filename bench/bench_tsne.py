"""t-SNE fit time: openTSNE (what the editor uses) against scikit-learn's Barnes-Hut t-SNE (the fallback,
and what the editor used before), the same latents, alternating, in the same run.

    python -m bench.bench_tsne [--n 3000] [--runs 3]

Gaussian-mixture latents (10 clusters, D=16, like a VAE's posterior means), max_iter 1000 for both (250 of
them early exaggeration), one thread fewer than the machine's cores, as the editor runs them. Prints each
library's median and min-max spread and the ratio openTSNE / scikit-learn; results go to
bench/results/tsne.json.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bench.machine import write_results


def latents(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(10, d))
    return (centres[rng.integers(0, 10, n)] + rng.normal(size=(n, d))).astype(np.float32)


def fit_sklearn(z: np.ndarray) -> None:
    from sklearn.manifold import TSNE

    TSNE(n_components=2, init="pca", perplexity=30.0, random_state=0, max_iter=1000,
         n_jobs=max(1, (os.cpu_count() or 2) - 1)).fit_transform(z)


def fit_opentsne(z: np.ndarray) -> None:
    from latent_atlas.models.latent.projection import make_projection

    make_projection("tsne", max_iter=1000, max_points=None).fit(z)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    z = latents(args.n)
    times: dict[str, list[float]] = {"opentsne": [], "sklearn": []}
    for _ in range(args.runs):                       # alternating, so load changes hit both alike
        for name, fit in (("opentsne", fit_opentsne), ("sklearn", fit_sklearn)):
            t0 = time.perf_counter()
            fit(z)
            times[name].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:9s} {args.n} points: median {med[k]:.2f} s (spread {min(v):.2f}-{max(v):.2f}, {len(v)} runs)")
    ratio = med["opentsne"] / med["sklearn"]
    print(f"ratio openTSNE / scikit-learn: {ratio:.2f}")
    write_results("tsne", {"n": args.n, "runs": args.runs, "seconds": times, "median_s": med, "ratio": ratio})


if __name__ == "__main__":
    main()
