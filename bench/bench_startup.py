"""Start-up: process start to window shown, and to the first decoded image, on the bundled default.
Goal: window under 1.5 s. Reference in the same run: a bare `python -c "import torch"`.

    python bench/bench_startup.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import describe_machine, summary  # noqa: E402

CHILD = """
import sys, time
from editor.app import create_window
from editor.core.bundled import default_model
app, window = create_window()
window.show()
app.processEvents()
print("shown", time.time(), flush=True)
window.open_path(str(default_model().path))
while window.decoded_view.image is None:
    app.processEvents()
    time.sleep(0.001)
print("decoded", time.time(), flush=True)
window.controller.shutdown()
"""


def one_run() -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600).stdout
    marks = {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line[:1] in "sd"}
    return {k: v - t0 for k, v in marks.items()}


def bare_torch() -> float:
    t0 = time.time()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.time() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    runs = [one_run() for _ in range(args.runs)]
    ref = summary([bare_torch() for _ in range(args.runs)])
    shown, decoded = summary([r["shown"] for r in runs]), summary([r["decoded"] for r in runs])
    print(f"window shown      median {shown['median']:.2f} s (min {shown['min']:.2f}, max {shown['max']:.2f}) "
          f"goal < 1.5 s: {'met' if shown['median'] < 1.5 else 'MISSED'}")
    print(f"first image       median {decoded['median']:.2f} s (min {decoded['min']:.2f}, max {decoded['max']:.2f})")
    print(f"reference: python -c 'import torch' median {ref['median']:.2f} s; window/reference "
          f"{shown['median'] / ref['median']:.2f}")
    out = ROOT / "bench" / "results" / "startup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": describe_machine(), "window_shown_s": shown, "first_image_s": decoded,
                               "import_torch_s": ref}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
