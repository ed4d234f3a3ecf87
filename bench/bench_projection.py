"""Benchmark the projection service: fit times and the cost of one click (inverse of one map point).

    python -m bench.bench_projection [--sizes 10000 60000] [--repeats 5]

Random Gaussian latents (D=16). PCA is fitted --repeats times (median and min-max spread); t-SNE and
UMAP are fitted once per size because each fit takes tens of seconds (UMAP only after a first small fit
that pays numba's compilation, reported on its own). A click is timed as 1000 separate single-point
inverse() calls at points uniform over the map's bounding box grown by 10% (so some fall outside the hull
and take the neighbour-weighting path). The reference, timed in the same run on the same points, is a
brute-force numpy nearest-neighbour search over the N map points: the least a click could cost without a
prebuilt structure. Results go to bench/results/projection.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from bench.machine import write_results  # noqa: E402
from latent_atlas.models.latent.projection import make_projection, umap_available  # noqa: E402

D = 16
N_CLICKS = 1000


def machine() -> dict:
    import scipy
    import sklearn
    import torch
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    if umap_available():
        import umap
        info["umap"] = umap.__version__
    return info


def stats_ms(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1e3
    return {"median_ms": float(np.median(ms)), "min_ms": float(ms.min()), "max_ms": float(ms.max()),
            "p95_ms": float(np.percentile(ms, 95)), "n": len(ms)}


def time_fit(method: str, Z: np.ndarray, repeats: int, **options) -> tuple[dict, object]:
    times, proj = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        proj = make_projection(method, **options).fit(Z)
        times.append(time.perf_counter() - t0)
    return stats_ms(times), proj


def click_points(embedding: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lo, hi = embedding.min(0), embedding.max(0)
    pad = 0.1 * (hi - lo)
    return rng.uniform(lo - pad, hi + pad, size=(N_CLICKS, 2)).astype(np.float32)


def time_clicks(proj, clicks: np.ndarray) -> dict:
    proj.inverse(clicks[:1])                                           # warm caches
    times = []
    for p in clicks:
        q = p[None]
        t0 = time.perf_counter()
        proj.inverse(q)
        times.append(time.perf_counter() - t0)
    return stats_ms(times)


def time_reference(embedding: np.ndarray, clicks: np.ndarray) -> dict:
    E = embedding.astype(np.float64)
    times = []
    for p in clicks.astype(np.float64):
        t0 = time.perf_counter()
        int(np.argmin(((E - p) ** 2).sum(1)))
        times.append(time.perf_counter() - t0)
    return stats_ms(times)


def bench_size(n: int, repeats: int, rng: np.random.Generator) -> dict:
    Z = rng.normal(size=(n, D)).astype(np.float32)
    row: dict = {"n": n, "latent_dim": D, "fit": {}, "click": {}}
    runs = [("pca", repeats, {"keep_residual": True}), ("tsne", 1, {})]
    if umap_available():
        runs.append(("umap", 1, {}))
    for method, reps, options in runs:
        print(f"  fitting {method} on {n} points ({reps}x)...", flush=True)
        row["fit"][method], proj = time_fit(method, Z, reps, **options)
        clicks = click_points(proj.embedding, rng)
        ours = time_clicks(proj, clicks)
        ref = time_reference(proj.embedding, clicks)
        ours["reference_median_ms"] = ref["median_ms"]
        ours["ratio_to_reference"] = ours["median_ms"] / ref["median_ms"]
        row["click"][method] = ours
    return row


def print_row(row: dict):
    print(f"N={row['n']} D={row['latent_dim']}")
    for method, s in row["fit"].items():
        spread = f" (min {s['min_ms']:.1f}, max {s['max_ms']:.1f})" if s["n"] > 1 else " (1 run)"
        print(f"  fit    {method:5s} median {s['median_ms']:10.1f} ms{spread}")
    for method, s in row["click"].items():
        print(f"  click  {method:5s} median {s['median_ms'] * 1e3:7.1f} us  p95 {s['p95_ms'] * 1e3:7.1f} us"
              f"  | brute-force nearest {s['reference_median_ms'] * 1e3:7.1f} us"
              f"  ratio {s['ratio_to_reference']:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 60_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    result = {"machine": machine(), "repeats": args.repeats, "clicks": N_CLICKS,
              "note": "tsne (max_points=10000) and umap fitted once per size, umap after a first "
                      "5,000-point fit; pca keep_residual=True",
              "sizes": []}
    if umap_available():
        # umap-learn compiles its numba kernels on the first fit of a process (the editor's first UMAP map
        # pays it too): timed apart, so the per-size numbers below are the fits themselves. 5,000 points:
        # above 4,096 umap-learn takes its approximate-neighbour path, which compiles kernels of its own
        print("  first UMAP fit of the process (numba compilation), 5,000 points...", flush=True)
        result["umap_first_fit"], _ = time_fit("umap", rng.normal(size=(5000, D)).astype(np.float32), 1)
        print(f"  first UMAP fit {result['umap_first_fit']['median_ms'] / 1e3:.1f} s", flush=True)
    for n in args.sizes:
        row = bench_size(n, args.repeats, rng)
        print_row(row)
        result["sizes"].append(row)
    if umap_available():
        result["umap_worker"] = time_worker_fits(rng.normal(size=(10_000, D)).astype(np.float32))
    write_results("projection", result)


def time_worker_fits(Z: np.ndarray) -> dict:
    """The editor's path: UMAP in the worker process (cancellable), two fits in a row; the first pays the
    compilation in that process, the second is what every later map of the session costs."""
    times = []
    for i in range(2):
        t0 = time.perf_counter()
        make_projection("umap", in_subprocess=True).fit(Z)
        times.append(time.perf_counter() - t0)
        print(f"  editor path, UMAP in the worker process, {len(Z)} points, fit {i + 1}: {times[-1]:.1f} s",
              flush=True)
    return {"n": len(Z), "first_ms": times[0] * 1e3, "second_ms": times[1] * 1e3}


if __name__ == "__main__":
    main()
