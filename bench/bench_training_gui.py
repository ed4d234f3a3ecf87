"""Training inside the editor: does the GUI stay smooth, and what does the GUI cost the trainer?

    python bench/bench_training_gui.py [--runs 3] [--threads 1] [--cases digits,fashion-mnist]

Per case and run, three measurements on the same model, data, batch size and torch thread count:
  (a) GUI-thread lateness: a 10 ms QTimer (precise) records how late each tick fires from Start until the
      run ends in the Training panel of the real window (offscreen, plots and preview redrawing, the data
      loading on the training thread included). Goal p99 < 20 ms.
      The same timer with nothing training is the reference.
  (b) the panel's throughput (images/s, the trainer's own clock from its first step to its final
      checkpoint) divided by a bare PyTorch loop (randperm batches -> model.train_step). Goal >= 0.9.
  (c) the command-line Trainer's throughput (Trainer.run() driven as cli/train_command.py drives it,
      checkpoints included, no progress bar) divided by the same bare loop. Goal >= 0.97.
Median and spread (min..max) over the runs; JSON in bench/results/training.json with the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.machine import describe_machine  # noqa: E402
from editor.core.training_setup import form_for, prepare_run  # noqa: E402

# dataset -> (limit, epochs, batch): each run trains for several seconds on one CPU thread
CASES = {"digits": (None, 40, 64), "fashion-mnist": (8192, 2, 128)}
TICK_MS = 10


def bare_loop(form) -> float:
    """images/s of the plainest loop over the same model and data: no events, checks or checkpoints."""
    trainer = prepare_run(replace(form, out=str(Path(form.out).with_name("bare.safetensors")))).trainer
    model, images, opts = trainer.model, trainer.images, trainer.optimizers
    bs, n = trainer.config.batch_size, len(images)
    model.train()
    t0 = time.perf_counter()
    for epoch in range(trainer.config.epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
        for b in range(0, n, bs):
            x = images[order[b:b + bs]].float().div_(255.0)
            model.train_step(x, None, opts)
    return trainer.config.epochs * n / (time.perf_counter() - t0)


def cli_loop(form) -> float:
    """images/s of Trainer.run() as the command line drives it (checkpoint every epoch)."""
    trainer = prepare_run(replace(form, out=str(Path(form.out).with_name("cli.safetensors")))).trainer
    last = None
    for event in trainer.run():
        last = event
    return trainer.config.epochs * len(trainer.images) / last.elapsed_s


class LatenessProbe:
    """A 10 ms precise QTimer on the GUI thread; records how late each tick came (ms)."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.late: list[float] = []
        self._last = None

    def start(self) -> None:
        self.late, self._last = [], time.perf_counter()
        self.timer.start()

    def stop(self) -> np.ndarray:
        self.timer.stop()
        return np.asarray(self.late)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now


def idle_lateness(probe, seconds: float) -> np.ndarray:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    probe.start()
    loop.exec()
    return probe.stop()


def panel_run(panel, probe, form) -> tuple[float, np.ndarray, int]:
    """(images/s, lateness samples from Start to the end, plot redraws) for one run started from the panel,
    the GUI thread running its ordinary event loop meanwhile."""
    from PySide6.QtCore import QEventLoop

    state = {"done": None, "redraws": 0}
    original = panel.plots.refresh

    def counting_refresh():
        drew = original()
        state["redraws"] += drew
        return drew
    panel.plots.refresh = counting_refresh
    loop = QEventLoop()

    def finished(outcome):
        state["done"] = outcome
        loop.quit()
    panel.run_finished.connect(finished)
    probe.start()
    panel.start(form)
    loop.exec()
    late = probe.stop()
    panel.plots.refresh = original
    panel.run_finished.disconnect(finished)
    if state["done"] != "done":
        raise RuntimeError(f"the panel's run ended with {state['done']}: {panel.stats.text()}")
    e = panel.last_event
    return panel.info.n_images * (e.total_steps // panel.info.steps_per_epoch) / e.elapsed_s, late, state["redraws"]


def spread(values) -> dict:
    v = np.asarray(values, float)
    return {"runs": [float(x) for x in v], "median": float(np.median(v)), "min": float(v.min()),
            "max": float(v.max())}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cases", default=",".join(CASES))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from editor.app import create_window
    from editor.training_panel import TrainingPanel

    app, window = create_window(device="cpu")
    window.resize(1280, 800)
    window.show()
    panel = next(window.tools.widget(i) for i in range(window.tools.count())
                 if isinstance(window.tools.widget(i), TrainingPanel))
    window.tools.setCurrentWidget(panel)
    probe = LatenessProbe()
    results = {"machine": describe_machine(), "torch_threads": args.threads, "runs": args.runs,
               "tick_ms": TICK_MS, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            limit, epochs, batch = CASES[case]
            form = form_for(case, epochs=epochs, batch_size=batch, limit=limit, out=str(Path(tmp) / "panel.safetensors"))
            r = {"bare": [], "cli": [], "panel": [], "p50": [], "p99": [], "max": [], "redraws_per_s": []}
            idle = idle_lateness(probe, 3.0)
            for run in range(args.runs):
                r["bare"].append(bare_loop(form))
                r["cli"].append(cli_loop(form))
                t0 = time.perf_counter()
                rate, late, redraws = panel_run(panel, probe, replace(form, out=str(Path(tmp) / f"p{run}.safetensors")))
                r["panel"].append(rate)
                r["redraws_per_s"].append(redraws / (time.perf_counter() - t0))
                for q, key in ((50, "p50"), (99, "p99")):
                    r[key].append(float(np.percentile(late, q)))
                r["max"].append(float(late.max()))
                print(f"  {case} run {run + 1}: bare {r['bare'][-1]:,.0f} img/s, cli {r['cli'][-1]:,.0f}, "
                      f"panel {rate:,.0f}; lateness p50 {r['p50'][-1]:.2f} p99 {r['p99'][-1]:.2f} "
                      f"max {r['max'][-1]:.1f} ms over {len(late)} ticks", flush=True)
            panel_ratio = np.array(r["panel"]) / np.array(r["bare"])
            cli_ratio = np.array(r["cli"]) / np.array(r["bare"])
            results["cases"][case] = {
                "form": {"dataset": case, "family": form.family, "latent_dim": form.latent_dim, "epochs": epochs,
                         "batch_size": batch, "limit": limit},
                "lateness_ms": {"p50": spread(r["p50"]), "p99": spread(r["p99"]), "max": spread(r["max"]),
                                "idle_reference": {"p50": float(np.percentile(idle, 50)),
                                                   "p99": float(np.percentile(idle, 99)), "max": float(idle.max())}},
                "images_per_s": {"bare": spread(r["bare"]), "cli": spread(r["cli"]), "panel": spread(r["panel"])},
                "panel_over_bare": spread(panel_ratio), "cli_over_bare": spread(cli_ratio),
                "plot_redraws_per_s": spread(r["redraws_per_s"]),
            }
            c = results["cases"][case]
            print(f"{case}: (a) lateness p50 {c['lateness_ms']['p50']['median']:.2f} ms, p99 "
                  f"{c['lateness_ms']['p99']['median']:.2f} ms ({c['lateness_ms']['p99']['min']:.2f}.."
                  f"{c['lateness_ms']['p99']['max']:.2f}), max {c['lateness_ms']['max']['median']:.1f} ms "
                  f"[idle p99 {c['lateness_ms']['idle_reference']['p99']:.2f}] goal p99 < 20: "
                  f"{'met' if c['lateness_ms']['p99']['median'] < 20 else 'MISSED'}")
            print(f"{case}: (b) panel/bare {c['panel_over_bare']['median']:.3f} ({c['panel_over_bare']['min']:.3f}.."
                  f"{c['panel_over_bare']['max']:.3f}) goal >= 0.9: "
                  f"{'met' if c['panel_over_bare']['median'] >= 0.9 else 'MISSED'}")
            print(f"{case}: (c) cli/bare {c['cli_over_bare']['median']:.3f} ({c['cli_over_bare']['min']:.3f}.."
                  f"{c['cli_over_bare']['max']:.3f}) goal >= 0.97: "
                  f"{'met' if c['cli_over_bare']['median'] >= 0.97 else 'MISSED'}", flush=True)
    panel.shutdown()
    window.controller.shutdown()
    out = ROOT / "bench" / "results" / "training.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
