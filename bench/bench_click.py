"""Click to pixels: from a synthetic mouse press on the map to the image item updated, through the real
widgets (offscreen), for 8x8, 28x28 and 64x64 models, and for the PyTorch-VAE zoo's size (VanillaVAE,
64x64 RGB, z128, hidden_dims 32..512) both as a converted checkpoint and as a user's own module opened
through latent_atlas.view's route (models/adapters). Goal: p95 under 16 ms on CPU (25 ms at 64x64).

    python -m bench.bench_click [--clicks 200] [--only WORD ...] [--contended]

--contended: the same clicks, in the same invocation, also while the app's own Training tab trains a model
and while another process keeps one core busy (bench/contention.py), each against the quiet run.

Reference in the same run: a bare model.decode of one latent (what the network alone costs)."""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import torch

from bench.contention import CONDITIONS, condition
from bench.machine import describe_machine, summary, write_results
from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.checkpoints.checkpoint import save_checkpoint
from latent_atlas.models.config import VAEConfig
from latent_atlas.models.data import load_dataset
from latent_atlas.models.registry import build_model

CASES = {"8x8 (digits)": ("digits", 8, 8), "28x28 (fashion-mnist)": ("fashion-mnist", 28, 16),
         "64x64 (shapes)": ("shapes", 64, 10), "64x64 RGB z128 (zoo VanillaVAE)": ("zoo", 64, 128),
         "64x64 RGB z128 (own module)": ("module", 64, 128),
         "64x64 RGB emoji VAE (bundled)": ("bundled:emoji_vae", 64, 32),
         "64x64 RGB emoji CVAE (bundled)": ("bundled:emoji_cvae", 64, 32)}
ZOO_DIMS = (32, 64, 128, 256, 512)


def make_checkpoint(folder: Path, dataset: str, size: int, latent: int) -> Path:
    if dataset.startswith("bundled:"):           # a trained bundled checkpoint, as shipped
        return resource_path("models", dataset.split(":", 1)[1] + ".safetensors")
    torch.manual_seed(0)
    if dataset in ("zoo", "module"):
        model = build_model("vae", VAEConfig(image_shape=(3, size, size), latent_dim=latent, arch="zoo",
                                             hidden_dims=ZOO_DIMS, likelihood="gaussian"))
        return save_checkpoint(folder / f"{dataset}.safetensors", model, dataset={"name": "none"})
    model = build_model("vae", VAEConfig(image_shape=(1, size, size), latent_dim=latent))
    data = load_dataset(dataset, split="test", image_size=size, limit=2000)
    return save_checkpoint(folder / f"{dataset}.safetensors", model, dataset=data.describe())


def open_as_module(window, path: Path) -> None:
    """The same network handed over as a user's module: probed, wrapped (ModuleModel) and opened the way
    latent_atlas.view opens it, so the difference to the checkpoint case is the adapter's cost."""
    from latent_atlas.editor.python_api import prepare
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

    model, data, origin = prepare(load_checkpoint(path).model, kind="vae")
    window.controller.open_module(model, data, origin)


def bare_decode_ms(path: Path, n: int) -> list[float]:
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

    model = load_checkpoint(path).model
    z = torch.randn(n, model.latent_dim)
    c = torch.zeros(1, model.cond_dim) if model.cond_dim else None      # a CVAE decodes with a condition
    out = []
    with torch.inference_mode():
        for i in range(n):
            t0 = time.perf_counter()
            model.decode(z[i:i + 1], c)
            out.append((time.perf_counter() - t0) * 1000)
    return out


def open_model(app, window, path: Path) -> None:
    window.controller.map_limit = 2000
    module = path.stem == "module"
    if module:
        open_as_module(window, path)
    else:
        window.open_path(str(path))
    while window.decoded_view.image is None or window.state.loaded is None or \
            window.state.loaded.is_module != module or (not module and window.state.loaded.path != path):
        app.processEvents()


def click_latencies(app, window, clicks: int) -> list[float]:
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    emb = window.state.loaded.embedding
    lo, hi = emb.min(0), emb.max(0)
    hi = lo + (hi - lo) * np.array([0.7, 1.0])   # stay left of the legend, which takes the clicks it covers
    rng = np.random.default_rng(0)
    shown = {"n": 0}
    def count(_):
        shown["n"] += 1
    window.state.events.decoded.connect(count)
    viewport = window.map.plot_widget.viewport()
    times, missed = [], 0
    for k in range(clicks + 10):
        x, y = lo + rng.random(2) * (hi - lo)
        pos = window.map.plot_widget.mapFromScene(window.map.view.mapViewToScene(QPointF(x, y)))
        before = shown["n"]
        t0 = time.perf_counter()
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        while shown["n"] == before and time.perf_counter() - t0 < 2.0:
            app.processEvents()
        if shown["n"] == before:
            missed += 1
        elif k >= 10:   # the first clicks warm up caches and the allocator
            times.append((time.perf_counter() - t0) * 1000)
        QTest.qWait(20)   # a person does not click every millisecond; lets the double-click timer pass
    window.state.events.decoded.disconnect(count)
    if missed:
        print(f"  {missed} clicks drew no new image within 2 s", flush=True)
    return times


def goal_ms(size: int) -> float:
    return 25.0 if size >= 64 else 16.0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--clicks", type=int, default=200)
    p.add_argument("--contended", action="store_true", help="also while training and while a core is busy")
    p.add_argument("--only", nargs="*", metavar="WORD", help="only the cases whose name holds one of these words "
                   "(e.g. zoo module)")
    args = p.parse_args()
    from PySide6.QtTest import QTest

    from latent_atlas.editor.app import create_window

    app, window = create_window(device="cpu")
    window.resize(1280, 800)
    window.show()
    results = {"machine": describe_machine(), "clicks": args.clicks, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (dataset, size, latent) in CASES.items():
            if args.only and not any(word in name for word in args.only):
                continue
            path = make_checkpoint(Path(tmp), dataset, size, latent)
            open_model(app, window, path)
            # a model's first seconds also import the later modules, estimate the density line and write the
            # map cache on the other threads: clicks then are start-up's (bench_startup's "clickable"), not these
            QTest.qWait(1500)
            ref = summary(bare_decode_ms(path, args.clicks))
            case = {"bare_decode_ms": ref, "goal_p95_ms": goal_ms(size)}
            for cond in (CONDITIONS if args.contended else ("quiet",)):
                with condition(cond, app, window, Path(tmp)):
                    lat = summary(click_latencies(app, window, args.clicks))
                key = "click_to_pixels_ms" if cond == "quiet" else f"click_to_pixels_ms_{cond}"
                case[key] = lat
                line = (f"{name:24s} {cond:8s} click->pixels median {lat['median']:.2f} ms  p95 {lat['p95']:.2f} ms"
                        f"  max {lat['max']:.2f} ms")
                if cond == "quiet":
                    case["ratio_median"] = lat["median"] / ref["median"]
                    line += f" | bare decode median {ref['median']:.2f} ms (ratio {case['ratio_median']:.1f}x)"
                else:
                    quiet = case["click_to_pixels_ms"]
                    case[f"p95_ratio_{cond}_to_quiet"] = lat["p95"] / quiet["p95"]
                    line += f" | p95 / quiet {lat['p95'] / quiet['p95']:.2f}"
                print(line + f"  goal p95 < {goal_ms(size):.0f} ms: {'met' if lat['p95'] < goal_ms(size) else 'MISSED'}",
                      flush=True)
            results["cases"][name] = case
    window.controller.shutdown()
    suffix = ("_" + "_".join(args.only) if args.only else "") + ("_contended" if args.contended else "")
    write_results("click" + suffix, results)


if __name__ == "__main__":
    main()
