"""Click to pixels: from a synthetic mouse press on the map to the image item updated, through the real
widgets (offscreen), for 8x8, 28x28 and 64x64 models, and for the PyTorch-VAE zoo's size (VanillaVAE,
64x64 RGB, z128, hidden_dims 32..512) both as a converted checkpoint and as a user's own module opened
through latent_atlas.view's route (models/adapters). Goal: p95 under 16 ms on CPU.

    python -m bench.bench_click [--clicks 200]

Reference in the same run: a bare model.decode of one latent (what the network alone costs)."""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.machine import describe_machine, summary, write_results  # noqa: E402
from latent_atlas.models.checkpoints.checkpoint import save_checkpoint  # noqa: E402
from latent_atlas.models.config import VAEConfig  # noqa: E402
from latent_atlas.models.data import load_dataset  # noqa: E402
from latent_atlas.models.registry import build_model  # noqa: E402

CASES = {"8x8 (digits)": ("digits", 8, 8), "28x28 (fashion-mnist)": ("fashion-mnist", 28, 16),
         "64x64 (shapes)": ("shapes", 64, 10), "64x64 RGB z128 (zoo VanillaVAE)": ("zoo", 64, 128),
         "64x64 RGB z128 (own module)": ("module", 64, 128)}
ZOO_DIMS = (32, 64, 128, 256, 512)


def make_checkpoint(folder: Path, dataset: str, size: int, latent: int) -> Path:
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
    out = []
    with torch.inference_mode():
        for i in range(n):
            t0 = time.perf_counter()
            model.decode(z[i:i + 1])
            out.append((time.perf_counter() - t0) * 1000)
    return out


def click_latencies(app, window, path: Path, clicks: int) -> list[float]:
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    window.controller.map_limit = 2000
    module = path.stem == "module"
    if module:
        open_as_module(window, path)
    else:
        window.open_path(str(path))
    while window.decoded_view.image is None or window.state.loaded is None or \
            window.state.loaded.is_module != module or (not module and window.state.loaded.path != path):
        app.processEvents()
    emb = window.state.loaded.embedding
    lo, hi = emb.min(0), emb.max(0)
    hi = lo + (hi - lo) * np.array([0.7, 1.0])   # stay left of the legend, which takes the clicks it covers
    rng = np.random.default_rng(0)
    shown = {"n": 0}
    window.state.events.decoded.connect(lambda r: shown.__setitem__("n", shown["n"] + 1))
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
    if missed:
        print(f"  {missed} clicks drew no new image within 2 s", flush=True)
    return times


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--clicks", type=int, default=200)
    p.add_argument("--only", nargs="*", metavar="WORD", help="only the cases whose name holds one of these words "
                   "(e.g. zoo module)")
    args = p.parse_args()
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
            lat = summary(click_latencies(app, window, path, args.clicks))
            ref = summary(bare_decode_ms(path, args.clicks))
            results["cases"][name] = {"click_to_pixels_ms": lat, "bare_decode_ms": ref,
                                      "ratio_median": lat["median"] / ref["median"]}
            print(f"{name:24s} click->pixels median {lat['median']:.2f} ms  p95 {lat['p95']:.2f} ms  "
                  f"max {lat['max']:.2f} ms | bare decode median {ref['median']:.2f} ms "
                  f"(ratio {lat['median'] / ref['median']:.1f}x)  goal p95 < 16 ms: "
                  f"{'met' if lat['p95'] < 16 else 'MISSED'}")
    window.controller.shutdown()
    write_results("click" + ("_" + "_".join(args.only) if args.only else ""), results)


if __name__ == "__main__":
    main()
