"""The map with many points: pan frames/s at 10,000, 60,000 and 100,000 points through the real LatentMap
widget (offscreen, painted with grab()), with the level of detail (the editor's drawing) and with every point
drawn under a grid at every tick level (the old drawing, the reference), interleaved in each run. Also the
time to (re)draw the scatter, and panning zoomed in (an eighth of the data's width: every point in view drawn, re-chosen as the view moves).

    python -m bench.bench_map [--frames 30] [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

from bench.machine import describe_machine, summary, write_results

SIZES = (10_000, 60_000, 100_000)
PATHS = {"detail": "level of detail", "old": "every point drawn"}


def data(n: int):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, 2)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    images = np.zeros((n, 28, 28, 1), np.uint8)     # hover thumbnails: not painted here
    return emb, labels, images


def measure(n: int, path: str, frames: int, zoom: float = 1.0) -> dict:
    from latent_atlas.editor.map.latent_map import LatentMap

    emb, labels, images = data(n)
    widget = LatentMap(draw_budget=None) if path == "old" else LatentMap()
    if path == "old":
        for side in ("left", "bottom"):
            widget.plot.getAxis(side).setStyle(maxTickLevel=2)    # the old grid: minor lines too
    widget.resize(900, 700)
    widget.show()
    t0 = time.perf_counter()
    widget.set_points(emb, labels, [str(i) for i in range(10)], images)
    widget.plot_widget.grab()
    redraw = (time.perf_counter() - t0) * 1000
    if zoom != 1.0:
        widget.view.scaleBy((zoom, zoom))
    (x0, x1), _ = widget.view.viewRange()
    step = (x1 - x0) / 50                       # a pan of 1/50 of the view per frame
    widget.plot_widget.grab()
    pan = []
    for _ in range(frames):
        t0 = time.perf_counter()
        widget.view.translateBy(x=step, y=step / 2)
        widget.plot_widget.grab()
        pan.append((time.perf_counter() - t0) * 1000)
    drawn = len(widget.drawn)
    widget.close()
    widget.deleteLater()
    return {"redraw_ms": redraw, "pan_frame_ms": float(np.median(pan)), "pan_p95_ms": float(np.percentile(pan, 95)),
            "drawn": drawn}


def run(frames: int, runs: int) -> dict:
    results = {"machine": describe_machine(), "frames": frames, "runs": runs}
    for n in SIZES:
        per = {path: [] for path in PATHS}
        per["detail_zoomed_in"] = []
        for _ in range(runs):
            for path in PATHS:                      # interleaved: a busy spell hits both paths alike
                per[path].append(measure(n, path, frames))
            per["detail_zoomed_in"].append(measure(n, "detail", frames, zoom=1 / 8))
        r = {}
        for path, rows in per.items():
            fps = [1000 / row["pan_frame_ms"] for row in rows]
            r[path] = {"pan_fps": summary(fps), "pan_frame_p95_ms": summary([row["pan_p95_ms"] for row in rows]),
                       "redraw_ms": summary([row["redraw_ms"] for row in rows]), "drawn": rows[-1]["drawn"]}
        r["fps_ratio_detail_to_old"] = r["detail"]["pan_fps"]["median"] / r["old"]["pan_fps"]["median"]
        results[str(n)] = r
        for path in per:
            s = r[path]["pan_fps"]
            print(f"{n:7d} points, {path:16s}: pan {s['median']:5.1f} frames/s (runs {s['min']:.1f}-{s['max']:.1f}),"
                  f" frame p95 {r[path]['pan_frame_p95_ms']['median']:.1f} ms, redraw "
                  f"{r[path]['redraw_ms']['median']:.0f} ms, {r[path]['drawn']} drawn")
        print(f"{n:7d} points: level of detail / old pan frames/s = {r['fps_ratio_detail_to_old']:.2f}")
    return results


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    from latent_atlas.editor.app import create_window

    _, window = create_window(device="cpu")   # the QApplication and pyqtgraph settings the editor uses
    try:
        results = run(args.frames, args.runs)
    finally:
        window.controller.shutdown()          # its decode thread must end before the process does
    write_results("map", results)


if __name__ == "__main__":
    main()
