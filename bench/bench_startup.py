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
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from bench.machine import describe_machine, summary, write_results  # noqa: E402

CHILD = """
import sys, time
if OLD_ORDER:
    import scipy.spatial, sklearn.decomposition, torch
from latent_atlas.editor.app import create_window, finish_startup
from latent_atlas.editor.core.bundled import default_model
app, window = create_window(complete=OLD_ORDER)
window.show()
app.processEvents()
print("shown", time.time(), flush=True)
if not OLD_ORDER:
    finish_startup(window)
print("complete", time.time(), flush=True)
window.open_path(str(default_model().path))
while window.decoded_view.image is None:
    app.processEvents()
    time.sleep(0.001)
print("decoded", time.time(), flush=True)
window.controller.shutdown()
"""


def one_run(old_order: bool = False) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", f"OLD_ORDER = {old_order}\n" + CHILD], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600).stdout
    marks = {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line[:1] in "scd"}
    return {k: v - t0 for k, v in marks.items()}


def bare_torch() -> float:
    t0 = time.time()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.time() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    runs, old = [], []
    for _ in range(args.runs):                 # interleaved, so both orders see the same machine load
        runs.append(one_run())
        old.append(one_run(old_order=True))
    ref = summary([bare_torch() for _ in range(args.runs)])
    stats = {k: summary([r[k] for r in runs]) for k in ("shown", "complete", "decoded")}
    old_stats = {k: summary([r[k] for r in old]) for k in ("shown", "decoded")}

    def line(what, s):
        return f"{what:<34} median {s['median']:.2f} s (min {s['min']:.2f}, max {s['max']:.2f})"

    shown = stats["shown"]
    print(line("window shown", shown) + f"  goal < 1.5 s: {'met' if shown['median'] < 1.5 else 'MISSED'}")
    print(line("editor complete (torch loaded)", stats["complete"]))
    print(line("first image", stats["decoded"]))
    print(line("old order: window shown", old_stats["shown"]))
    print(line("old order: first image", old_stats["decoded"]))
    print(f"reference: python -c 'import torch' median {ref['median']:.2f} s; window/reference "
          f"{shown['median'] / ref['median']:.2f}")
    write_results("startup", {"machine": describe_machine(), "window_shown_s": shown,
                               "editor_complete_s": stats["complete"], "first_image_s": stats["decoded"],
                               "old_order_window_shown_s": old_stats["shown"],
                               "old_order_first_image_s": old_stats["decoded"], "import_torch_s": ref})


if __name__ == "__main__":
    main()
