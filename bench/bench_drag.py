"""Interpolation strip during a drag: how many 16-frame strips reach the screen per second, through the real
widgets (offscreen), while dragged() signals arrive at 120 Hz for ~3 s. Goal: 60 or more per second.

    python -m bench.bench_drag [--runs 5] [--seconds 3] [--frames 16] [--checkpoint FILE] [--contended]

--contended: each run drags also while the app's own Training tab trains a model and while another process
keeps one core busy (bench/contention.py); goal: strips painted/s at least 0.8 of the quiet run's, in the same
invocation. Writes bench/results/drag_contended.json.

The model is resources/models/fashion_vae.safetensors when it exists, else an untrained 28x28 conv VAE of
the default size (latent 16) over the Fashion-MNIST test subset: decode cost depends on the architecture,
not on the weights. "Reach the screen" counts paints of the strip's ImageItem that show a new strip (several
setImage calls between two paints count once). Reference in the same run: a bare model.decode of 16 latents
per second on one thread, the most strips per second the network alone allows. Writes bench/results/drag.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np
import torch

from bench.contention import CONDITIONS, condition
from bench.machine import describe_machine, summary
from latent_atlas.models.bundled_files import resource_path

BUNDLED = resource_path("models", "fashion_vae.safetensors")
RATE_HZ = 120


def make_checkpoint(folder: Path) -> Path:
    from latent_atlas.models.checkpoints.checkpoint import save_checkpoint
    from latent_atlas.models.config import VAEConfig
    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("vae", VAEConfig(image_shape=(1, 28, 28), latent_dim=16))
    data = load_dataset("fashion-mnist", split="test", image_size=28, limit=2000)
    return save_checkpoint(folder / "fashion_untrained.safetensors", model, dataset=data.describe())


def wait(app, ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(app, condition, timeout_s: float = 120.0) -> None:
    end = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("the editor did not get ready in time")
        wait(app, 20)


class PaintCounter:
    """Counts paints of an ImageItem that show an image not painted before."""

    def __init__(self, item):
        self.painted = 0
        self._fresh = False
        set_image, paint = item.setImage, item.paint

        def counting_set_image(*args, **kwargs):
            self._fresh = True
            return set_image(*args, **kwargs)

        def counting_paint(*args, **kwargs):
            if self._fresh:
                self.painted += 1
                self._fresh = False
            return paint(*args, **kwargs)

        item.setImage, item.paint = counting_set_image, counting_paint


def drag_run(app, window, panel, counter, seconds: float) -> dict:
    """One synthetic drag: a loop around the map at RATE_HZ; returns strips shown and painted per second."""
    from PySide6.QtCore import Qt, QTimer

    emb = window.state.loaded.embedding
    centre, radius = emb.mean(0), 0.8 * emb.std(0)
    view = window.map.view
    decode_ms: list[float] = []

    def on_decoded(result, _asked) -> None:
        decode_ms.append(result.elapsed_ms)

    panel.channel.result.connect(on_decoded)
    state = {"ticks": 0}
    view.drag_started.emit(*(centre + radius * [1, 0]))
    updates0, painted0 = panel.strip_view.updates, counter.painted

    def tick():
        state["ticks"] += 1
        angle = 2 * np.pi * state["ticks"] / (RATE_HZ * 1.5)
        view.dragged.emit(*(centre + radius * [np.cos(angle), np.sin(angle)]))

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(round(1000 / RATE_HZ))
    timer.timeout.connect(tick)
    t0 = time.perf_counter()
    timer.start()
    wait(app, int(seconds * 1000))
    timer.stop()
    elapsed = time.perf_counter() - t0
    shown, painted = panel.strip_view.updates - updates0, counter.painted - painted0
    view.drag_finished.emit(*(centre + radius * [1, 0]))
    wait(app, 300)                                   # let the last strip land before the next run
    panel.channel.result.disconnect(on_decoded)
    return {"seconds": elapsed, "drag_events_per_s": state["ticks"] / elapsed, "shown_per_s": shown / elapsed,
            "painted_per_s": painted / elapsed, "decode_ms_median": float(np.median(decode_ms)) if decode_ms else None}


def bare_decode_rate(path: Path, frames: int, seconds: float = 1.5) -> float:
    """Strips per second the network alone manages: model.decode of `frames` latents in a loop."""
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

    model = load_checkpoint(path).model.eval()
    z = torch.randn(frames, model.latent_dim)
    with torch.inference_mode():
        model.decode(z)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            model.decode(z)
            n += 1
    return n / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--contended", action="store_true", help="also while training and while a core is busy")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.out = args.out or Path(__file__).resolve().parent / "results" / (
        "drag_contended.json" if args.contended else "drag.json")

    from latent_atlas.editor.app import create_window
    from latent_atlas.editor.panels.interpolation_panel import InterpolationPanel

    tmp = tempfile.TemporaryDirectory()
    path = args.checkpoint or (BUNDLED if BUNDLED.exists() else make_checkpoint(Path(tmp.name)))
    app, window = create_window(device="cpu")
    window.resize(1280, 800)
    window.show()
    window.open_path(str(path))
    wait_until(app, lambda: window.state.loaded is not None and window.decoded_view.image is not None)
    panel = next(window.tools.widget(i) for i in range(window.tools.count())
                 if isinstance(window.tools.widget(i), InterpolationPanel))
    window.tools.setCurrentWidget(panel)
    panel.n_frames.setValue(args.frames)
    counter = PaintCounter(panel.strip_view.item)
    runs, references = [], []
    contended = {cond: [] for cond in CONDITIONS[1:]} if args.contended else {}
    try:
        drag_run(app, window, panel, counter, 0.5)          # warm-up: first decodes, first paints
        # a large model's first image also computes its density (IW, K=64) on the decode worker: wait until
        # the editor is idle, so the runs measure the drag and not the start-up
        wait_until(app, lambda: counter.painted > 0)
        wait(app, 1000)
        for i in range(args.runs):
            runs.append(drag_run(app, window, panel, counter, args.seconds))
            references.append(bare_decode_rate(path, args.frames))
            r = runs[-1]
            decode = "no strip decoded" if r["decode_ms_median"] is None else f"{r['decode_ms_median']:.2f} ms"
            print(f"run {i + 1}: {r['painted_per_s']:.1f} strips painted/s, {r['shown_per_s']:.1f} shown/s, "
                  f"{r['drag_events_per_s']:.0f} drag events/s, decode {decode}; "
                  f"bare decode {references[-1]:.1f} strips/s")
            for cond, rows in contended.items():       # interleaved with the quiet runs
                with condition(cond, app, window, Path(tmp.name)) as contender:
                    trainer = getattr(contender, "_trainer", None)     # the Training tab's run, if training
                    steps, t0 = (trainer.step if trainer else 0), time.perf_counter()
                    rows.append(drag_run(app, window, panel, counter, args.seconds))
                    note = ""
                    if trainer is not None:         # what the drag cost the training: its steps/s, drag vs none
                        during = (trainer.step - steps) / (time.perf_counter() - t0)
                        steps, t0 = trainer.step, time.perf_counter()
                        wait(app, int(args.seconds * 1000))
                        idle = (trainer.step - steps) / (time.perf_counter() - t0)
                        rows[-1].update(training_steps_per_s_during=during, training_steps_per_s_idle=idle)
                        note = f"; training {during:.0f} steps/s during the drag, {idle:.0f} without"
                print(f"run {i + 1} {cond}: {rows[-1]['painted_per_s']:.1f} strips painted/s "
                      f"({rows[-1]['painted_per_s'] / r['painted_per_s']:.2f} of quiet){note}", flush=True)
    finally:
        window.controller.shutdown()
    painted = summary([r["painted_per_s"] for r in runs])
    reference = summary(references)
    result = {"benchmark": "interpolation strip updates during a drag", "checkpoint": path.name,
              "frames": args.frames, "image": list(window.state.loaded.model.image_shape),
              "drag_rate_hz": RATE_HZ, "seconds_per_run": args.seconds, "runs": runs,
              "painted_per_s": painted, "shown_per_s": summary([r["shown_per_s"] for r in runs]),
              "bare_decode_strips_per_s": reference,
              "ratio_painted_to_bare": painted["median"] / reference["median"],
              "goal_per_s": 60, "contended": {
                  cond: {"painted_per_s": summary([r["painted_per_s"] for r in rows]),
                         "ratio_to_quiet": summary([r["painted_per_s"] / q["painted_per_s"] for r, q in zip(rows, runs)]),
                         "goal_ratio": 0.8} for cond, rows in contended.items()},
              "load_average": os.getloadavg(), "machine": describe_machine()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"strips painted per second: median {painted['median']:.1f} (min {painted['min']:.1f}, "
          f"max {painted['max']:.1f}) over {args.runs} runs; bare decode {reference['median']:.1f} strips/s; "
          f"ratio {result['ratio_painted_to_bare']:.2f}; goal 60. Wrote {args.out}")
    for cond, c in result["contended"].items():
        ratio = c["ratio_to_quiet"]
        print(f"{cond}: strips painted/s median {c['painted_per_s']['median']:.1f}, ratio to quiet median "
              f"{ratio['median']:.2f} (min {ratio['min']:.2f}, max {ratio['max']:.2f}); goal >= 0.8: "
              f"{'met' if ratio['median'] >= 0.8 else 'MISSED'}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
