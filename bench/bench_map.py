"""The map with many points: time to (re)draw the scatter and to pan one frame, 10,000 vs 60,000 points,
through the real LatentMap widget (offscreen, painted with grab()).

    python -m bench.bench_map [--frames 30]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from bench.machine import describe_machine, summary, write_results  # noqa: E402


def measure(n: int, frames: int) -> dict:
    from latent_atlas.editor.map.latent_map import LatentMap

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, 2)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 255, (n, 28, 28, 1), dtype=np.uint8)
    widget = LatentMap()
    widget.resize(900, 700)
    widget.show()
    redraw = []
    for _ in range(5):
        t0 = time.perf_counter()
        widget.set_points(emb, labels, [str(i) for i in range(10)], images)
        widget.plot_widget.grab()
        redraw.append((time.perf_counter() - t0) * 1000)
    pan = []
    for _ in range(frames):
        t0 = time.perf_counter()
        widget.view.translateBy(x=0.02, y=0.01)
        widget.plot_widget.grab()
        pan.append((time.perf_counter() - t0) * 1000)
    widget.close()
    return {"redraw_ms": summary(redraw), "pan_frame_ms": summary(pan)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=30)
    args = p.parse_args()
    from latent_atlas.editor.app import create_window

    _, window = create_window(device="cpu")   # the QApplication and pyqtgraph settings the editor uses
    try:
        results = run(args.frames)
    finally:
        window.controller.shutdown()          # its decode thread must end before the process does
    ratio = results["60000"]["pan_frame_ms"]["median"] / results["10000"]["pan_frame_ms"]["median"]
    print(f"pan frame 60k / 10k: {ratio:.2f}")
    write_results("map", results)


def run(frames: int) -> dict:
    results = {"machine": describe_machine()}
    for n in (10_000, 60_000):
        r = measure(n, frames)
        results[str(n)] = r
        print(f"{n:6d} points: redraw median {r['redraw_ms']['median']:.1f} ms, pan frame median "
              f"{r['pan_frame_ms']['median']:.1f} ms (p95 {r['pan_frame_ms']['p95']:.1f} ms, "
              f"{1000 / r['pan_frame_ms']['median']:.0f} frames/s)")
    return results


if __name__ == "__main__":
    main()
