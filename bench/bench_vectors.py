"""Opening a checkpoint with many stored vectors (issue 19): seconds from File > Open to the Attributes panel
synced, offscreen, on the bundled digits-sized default, and the longest single GUI-thread stall while it
opens (a QTimer ticking every 10 ms measures the gaps). Reference in the same run: the same model with 4
vectors.

    python -m bench.bench_vectors [--runs 3] [--vectors 1000]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.machine import describe_machine, summary, write_results


def make_checkpoint(folder: Path, n: int) -> Path:
    import torch

    from latent_atlas.editor.core.bundled import default_model
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(default_model().path)
    g = torch.Generator().manual_seed(0)
    d = ckpt.model.latent_dim
    vectors = {f"v{i}": {"vector": torch.randn(d, generator=g), "description": "d"} for i in range(n)}
    return save_checkpoint(folder / f"v{n}.safetensors", ckpt.model, dataset=ckpt.dataset, vectors=vectors)


def open_once(app, window, path: Path, n: int) -> tuple[float, float]:
    from PySide6.QtCore import QTimer

    gaps, last = [0.0], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
    timer = QTimer(interval=10, timeout=tick)
    timer.start()
    done = []
    window.controller.model_loaded.connect(lambda _l: done.append(time.perf_counter()))
    start = time.perf_counter()
    window.open_path(str(path))
    while not done or len(window.state.edits) != n:
        app.processEvents()
        time.sleep(0.002)
    app.processEvents()                          # the panel's rows laid out
    took = time.perf_counter() - start
    timer.stop()
    window.controller.model_loaded.disconnect()
    return took, max(gaps)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--vectors", type=int, default=1000)
    args = p.parse_args(argv)
    from latent_atlas.editor.app import create_window

    app, window = create_window(device="cpu")
    window.resize(1280, 800)
    window.show()
    results = {"machine": describe_machine(), "vectors": args.vectors}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {n: make_checkpoint(Path(tmp), n) for n in (4, args.vectors)}
        times = {n: [] for n in paths}
        stalls = {n: [] for n in paths}
        for _ in range(args.runs):
            for n, path in paths.items():          # alternated, so load on the machine hits both alike
                took, stall = open_once(app, window, path, n)
                times[n].append(took)
                stalls[n].append(stall)
    window.controller.shutdown()
    for n in paths:
        results[f"open_{n}"] = summary(times[n])
        results[f"longest_stall_{n}"] = summary(stalls[n])
        print(f"{n:5d} vectors: open {results[f'open_{n}']['median']:.2f} s median "
              f"({min(times[n]):.2f}-{max(times[n]):.2f}), longest GUI stall "
              f"{results[f'longest_stall_{n}']['median']:.2f} s median ({min(stalls[n]):.2f}-{max(stalls[n]):.2f})")
    ratio = results[f"open_{args.vectors}"]["median"] / results["open_4"]["median"]
    results["ratio_to_4_vectors"] = ratio
    print(f"ratio {args.vectors} / 4 vectors: {ratio:.2f}")
    write_results("bench_vectors", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
