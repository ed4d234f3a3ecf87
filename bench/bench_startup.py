"""Start-up: process start to window shown, to the editor complete (tool panels, torch loaded), and to the
first decoded image, on the bundled default, in the order `latent-atlas` does it (editor.app.run_editor:
the window is shown before torch is imported). Goal: window under 1.5 s. References in the same run: a bare
`python -c "import torch"`, and the old order (torch, scipy, sklearn imported before the window is built).

    python -m bench.bench_startup [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from bench.machine import describe_machine, summary, write_results  # noqa: E402

CHILD = """
import sys, time
if OLD_ORDER:
    import scipy.spatial, sklearn.decomposition, torch
from latent_atlas.editor.app import create_window, finish_startup, show_cached_map
from latent_atlas.editor.core.bundled import default_model
path = str(default_model().path)
app, window = create_window(complete=OLD_ORDER)
window.show()
app.processEvents()
print("shown", time.time(), flush=True)
cached = None
if not OLD_ORDER:
    cached = show_cached_map(window, path)       # a warm start draws the map and first image here
    app.processEvents()
    if cached is not None:
        print("decoded", time.time(), flush=True)


def open_model():
    window.controller.use_map_cache = True
    window.controller.open(path, cached=cached)   # as editor.app._show_and_run: before the tool panels
if not OLD_ORDER:
    finish_startup(window, before_panels=open_model)
else:
    open_model()
print("complete", time.time(), flush=True)
if cached is None:
    while window.decoded_view.image is None:
        app.processEvents()
        time.sleep(0.001)
    print("decoded", time.time(), flush=True)
while window.state.loaded is None:
    app.processEvents()
    time.sleep(0.001)
print("clickable", time.time(), flush=True)
window.controller.shutdown()
"""


def one_run(old_order: bool = False, cache: str = "") -> dict:
    """One start in a fresh process; `cache` is its cache folder (an empty one: a cold start)."""
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "LATENT_ATLAS_CACHE": cache or tempfile.mkdtemp(prefix="bench-cold-")}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", f"OLD_ORDER = {old_order}\n" + CHILD], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600).stdout
    marks = {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line[:1] in "scdk"}
    return {k: v - t0 for k, v in marks.items()}


def bare_torch() -> float:
    t0 = time.time()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.time() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    runs, old, warm, refs = [], [], [], []
    warm_cache = tempfile.mkdtemp(prefix="bench-warm-")
    one_run(cache=warm_cache)                  # fills the warm cache
    for _ in range(args.runs):                 # interleaved, so every kind sees the same machine load
        runs.append(one_run())
        old.append(one_run(old_order=True))
        warm.append(one_run(cache=warm_cache))
        refs.append(bare_torch())
    ref = summary(refs)
    stats = {k: summary([r[k] for r in runs]) for k in ("shown", "complete", "decoded", "clickable")}
    old_stats = {k: summary([r[k] for r in old]) for k in ("shown", "decoded")}
    warm_stats = {k: summary([r[k] for r in warm]) for k in ("shown", "decoded", "clickable")}

    def line(what, s):
        return f"{what:<34} median {s['median']:.2f} s (min {s['min']:.2f}, max {s['max']:.2f})"

    shown = stats["shown"]
    print(line("window shown", shown) + f"  goal < 1.5 s: {'met' if shown['median'] < 1.5 else 'MISSED'}")
    print(line("editor complete (torch loaded)", stats["complete"]))
    print(line("first image (cold: no cache)", stats["decoded"])
          + f"  / import torch {stats['decoded']['median'] / ref['median']:.2f} (goal <= 1.5)")
    print(line("clickable (cold)", stats["clickable"]))
    print(line("warm cache: window shown", warm_stats["shown"]))
    print(line("warm cache: first image", warm_stats["decoded"])
          + f"  / window shown {warm_stats['decoded']['median'] / warm_stats['shown']['median']:.2f} (goal <= 1.5)")
    print(line("warm cache: clickable", warm_stats["clickable"]))
    print(line("old order: window shown", old_stats["shown"]))
    print(line("old order: first image", old_stats["decoded"]))
    print(f"reference: python -c 'import torch' median {ref['median']:.2f} s; window/reference "
          f"{shown['median'] / ref['median']:.2f}")
    write_results("startup", {"machine": describe_machine(), "window_shown_s": shown,
                               "editor_complete_s": stats["complete"], "first_image_s": stats["decoded"],
                               "old_order_window_shown_s": old_stats["shown"],
                               "old_order_first_image_s": old_stats["decoded"], "import_torch_s": ref,
                               "cold_clickable_s": stats["clickable"], "warm_window_shown_s": warm_stats["shown"],
                               "warm_first_image_s": warm_stats["decoded"], "warm_clickable_s": warm_stats["clickable"]})


if __name__ == "__main__":
    main()
