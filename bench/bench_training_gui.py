"""Training inside the editor: does the GUI stay smooth, and what does the GUI cost the trainer?

    python -m bench.bench_training_gui [--runs 3] [--threads 1] [--cases digits,fashion-mnist]

Per case and run, on the same model, data, batch size and torch thread count:
  (a) GUI-thread lateness: a 10 ms precise QTimer records how late each tick fires while a model trains
      in the Training panel of the real window (offscreen; plots, preview and progress redrawing), from
      the first step to the end. Goal p99 < 20 ms. References: the same timer with nothing training, and
      the same panel fed by the same trainer running in a spawned process (no GIL shared with the GUI),
      which is what moving the trainer to a process would buy.
  (b) the panel's throughput (images/s on the trainer's own clock, first step to final checkpoint)
      divided by a bare PyTorch loop (randperm batches -> model.train_step). Goal >= 0.9.
  (c) the command-line Trainer's throughput (Trainer.run() as cli/train_command.py drives it: its default
      checkpoints, every epoch end or every k-th when epochs are under 500 steps
      (models.training_events.checkpoint_interval), no progress bar) divided by the same bare loop.
      Goal >= 0.97. Also without checkpoints (out=None), which isolates the loop's own overhead.
Median and spread (min..max) over the runs; JSON in bench/results/training.json with the machine.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.machine import describe_machine, write_results  # noqa: E402
from latent_atlas.editor.core.image_convert import images_to_hwc_uint8  # noqa: E402
from latent_atlas.editor.core.training_setup import form_for, prepare_run  # noqa: E402

# dataset -> (limit, epochs, batch): each run trains for several seconds on one CPU thread
CASES = {"digits": (None, 40, 64), "fashion-mnist": (8192, 2, 128)}
TICK_MS = 10
PREVIEW_EVERY_S = 3.0


def bare_loop(form) -> tuple[float, float]:
    """(images/s, images per CPU-second of this thread) of the plainest loop over the same model and data:
    no events, checks or checkpoints. CPU time does not count waiting for a core, so on a machine shared
    with other work it shows the loop's own cost more steadily than the wall clock."""
    trainer = prepare_run(replace(form, out=str(Path(form.out).with_name("bare.safetensors")))).trainer
    model, images, opts = trainer.model, trainer.images, trainer.optimizers
    bs, n = trainer.config.batch_size, len(images)
    model.train()
    t0, c0 = time.perf_counter(), time.thread_time()
    for epoch in range(trainer.config.epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
        for b in range(0, n, bs):
            x = images[order[b:b + bs]].float().div_(255.0)
            model.train_step(x, None, opts)
    images_done = trainer.config.epochs * n
    return images_done / (time.perf_counter() - t0), images_done / (time.thread_time() - c0)


def cli_loop(form, checkpoints: bool = True) -> tuple[float, float]:
    """(images/s, images per CPU-second of this thread) of Trainer.run() as the command line drives it:
    with its default checkpoint interval (the panel's form default is the same rule)."""
    trainer = prepare_run(replace(form, out=str(Path(form.out).with_name("latent_atlas.cli.safetensors")),
                                  checkpoint_every=None)).trainer
    if not checkpoints:
        trainer.out = None
    last = None
    c0 = time.thread_time()
    for event in trainer.run():
        last = event
    images_done = trainer.config.epochs * len(trainer.images)
    return images_done / last.elapsed_s, images_done / (time.thread_time() - c0)


class LatenessProbe:
    """A 10 ms precise QTimer on the GUI thread; records (time, ms late) for each tick."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[tuple[float, float]] = []
        self._last = 0.0

    def start(self) -> None:
        self.ticks, self._last = [], time.perf_counter()
        self.timer.start()

    def stop(self, since: float = 0.0) -> np.ndarray:
        self.timer.stop()
        return np.asarray([late for t, late in self.ticks if t >= since])

    def _tick(self) -> None:
        now = time.perf_counter()
        self.ticks.append((now, max(0.0, (now - self._last) * 1000 - TICK_MS)))
        self._last = now


def run_loop_until(finished, signal=None) -> None:
    """Runs the GUI's ordinary event loop until finished() is true: woken by `signal` if given (no polling
    work on the GUI thread), else checked every 20 ms."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    if signal is not None:
        def quit_if_finished(*_):
            if finished():
                loop.quit()
        signal.connect(quit_if_finished)
        if not finished():
            loop.exec()
        signal.disconnect(quit_if_finished)
        return
    check = QTimer()
    check.timeout.connect(lambda: loop.quit() if finished() else None)
    check.start(20)
    loop.exec()
    check.stop()


def idle_lateness(probe, seconds: float) -> np.ndarray:
    probe.start()
    end = time.perf_counter() + seconds
    run_loop_until(lambda: time.perf_counter() >= end)
    return probe.stop()


def panel_thread_run(panel, probe, form) -> dict:
    """One run from the panel's Start, the GUI thread in its ordinary event loop meanwhile. probe None:
    nothing else runs on the GUI thread (the 10 ms probe is itself 100 Python calls a second)."""
    done = {}
    original = panel._on_worker_prepared

    def prepared(info):                   # wraps the slot before Start connects it: no race with the thread
        done["prepared"] = time.perf_counter()
        original(info)
    panel._on_worker_prepared = prepared

    def finished(outcome):
        done["end"] = outcome
    panel.run_finished.connect(finished)
    if probe is not None:
        probe.start()
    panel.start(form)
    run_loop_until(lambda: "end" in done, panel.run_finished)
    panel.run_finished.disconnect(finished)
    del panel._on_worker_prepared
    if done["end"] != "done":
        raise RuntimeError(f"the panel's run ended with {done['end']}: {panel.stats.text()}")
    e = panel.last_event
    result = {"rate": panel.info.n_images * (e.total_steps // panel.info.steps_per_epoch) / e.elapsed_s}
    if probe is not None:
        whole = probe.stop()
        result["late"] = np.asarray([late for t, late in probe.ticks if t >= done["prepared"]])
        result["whole_max"] = float(whole.max())
    return result


def train_in_child(form, q, threads: int) -> None:
    """The same trainer and preview, in a spawned process; messages go back through a queue."""
    torch.set_num_threads(threads)
    run = prepare_run(form)
    q.put(("prepared", run.info()))
    last_preview = time.perf_counter()
    for event in run.trainer.run():
        q.put(("event", event))
        if time.perf_counter() - last_preview >= PREVIEW_EVERY_S:
            model = run.trainer.model
            model.eval()
            with torch.inference_mode():
                images = images_to_hwc_uint8(model.decode(run.preview_z, run.preview_c))
            model.train()
            q.put(("preview", (run.trainer.step, images)))
            last_preview = time.perf_counter()
    q.put(("end", None))


def panel_process_run(panel, probe, form, threads: int) -> dict:
    """The panel's plots, preview and progress fed by a trainer in another process (no shared GIL)."""
    from PySide6.QtCore import QTimer

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    child = ctx.Process(target=train_in_child, args=(form, q, threads))
    panel.buffer.reset()
    panel.preview.clear()
    panel.last_event, panel.info = None, None
    done = {}

    def drain():
        while True:
            try:
                kind, payload = q.get_nowait()
            except queue.Empty:
                return
            if kind == "prepared":
                done["prepared"] = time.perf_counter()
                panel._on_worker_prepared(payload)
            elif kind == "event":
                panel._on_worker_progressed([payload])
            elif kind == "preview":
                panel.preview.show_images(payload[1], payload[0])
            else:
                done["end"] = "done"
    poll = QTimer()
    poll.timeout.connect(drain)
    poll.start(20)
    child.start()
    run_loop_until(lambda: "prepared" in done)      # the child's start-up (imports) is not training
    probe.start()
    panel.timer.start()
    run_loop_until(lambda: "end" in done)
    late = probe.stop()
    poll.stop()
    panel.timer.stop()
    child.join()
    e = panel.last_event
    return {"rate": panel.info.n_images * (e.total_steps // panel.info.steps_per_epoch) / e.elapsed_s, "late": late}


def spread(values) -> dict:
    v = np.asarray(values, float)
    return {"runs": [float(x) for x in v], "median": float(np.median(v)), "min": float(v.min()),
            "max": float(v.max())}


def lateness(samples: np.ndarray) -> dict:
    return {"p50": float(np.percentile(samples, 50)), "p99": float(np.percentile(samples, 99)),
            "max": float(samples.max()), "ticks": len(samples)}


def measure_case(case, runs, threads, panel, probe, tmp) -> dict:
    limit, epochs, batch = CASES[case]
    form = form_for(case, epochs=epochs, batch_size=batch, limit=limit, out=str(Path(tmp) / "run.safetensors"),
                    overwrite=True)    # each round trains into the same scratch files again
    r = {k: [] for k in ("bare", "cli", "cli_loop_only", "panel", "process", "thread_late", "process_late",
                         "whole_max", "bare_cpu", "cli_cpu", "cli_loop_only_cpu", "panel_probed")}
    idle = idle_lateness(probe, 3.0)
    for run in range(runs):
        for key, rates in (("bare", bare_loop(form)), ("cli", cli_loop(form)),
                           ("cli_loop_only", cli_loop(form, checkpoints=False))):
            r[key].append(rates[0])
            r[key + "_cpu"].append(rates[1])
        plain = panel_thread_run(panel, None, replace(form, out=str(Path(tmp) / f"n{run}.safetensors")))
        thread = panel_thread_run(panel, probe, replace(form, out=str(Path(tmp) / f"t{run}.safetensors")))
        process = panel_process_run(panel, probe, replace(form, out=str(Path(tmp) / f"p{run}.safetensors")), threads)
        r["panel"].append(plain["rate"])
        r["panel_probed"].append(thread["rate"])
        r["process"].append(process["rate"])
        r["thread_late"].append(lateness(thread["late"]))
        r["process_late"].append(lateness(process["late"]))
        r["whole_max"].append(thread["whole_max"])
        t, p = r["thread_late"][-1], r["process_late"][-1]
        print(f"  {case} run {run + 1}: img/s bare {r['bare'][-1]:,.0f} cli {r['cli'][-1]:,.0f} "
              f"(no ckpt {r['cli_loop_only'][-1]:,.0f}) panel {plain['rate']:,.0f} (probed {thread['rate']:,.0f}) "
              f"process {process['rate']:,.0f}; "
              f"lateness ms thread p50 {t['p50']:.1f} p99 {t['p99']:.1f} max {t['max']:.0f} | "
              f"process p50 {p['p50']:.1f} p99 {p['p99']:.1f} max {p['max']:.0f}", flush=True)
    bare = np.array(r["bare"])
    late = {name: {q: spread([x[q] for x in r[key]]) for q in ("p50", "p99", "max")}
            for name, key in (("panel_thread", "thread_late"), ("panel_process", "process_late"))}
    late["panel_thread"]["max_including_data_loading"] = spread(r["whole_max"])
    late["idle_reference"] = lateness(idle)
    return {"form": {"dataset": case, "family": form.family, "latent_dim": form.latent_dim, "epochs": epochs,
                     "batch_size": batch, "limit": limit},
            "lateness_ms": late,
            "images_per_s": {k: spread(r[k]) for k in ("bare", "cli", "cli_loop_only", "panel", "panel_probed",
                                                        "process")},
            "panel_probed_over_bare": spread(np.array(r["panel_probed"]) / bare),
            "panel_over_bare": spread(np.array(r["panel"]) / bare),
            "cli_over_bare": spread(np.array(r["cli"]) / bare),
            "cli_loop_only_over_bare": spread(np.array(r["cli_loop_only"]) / bare),
            "cpu_time": {"cli_over_bare": spread(np.array(r["cli_cpu"]) / np.array(r["bare_cpu"])),
                         "cli_loop_only_over_bare": spread(np.array(r["cli_loop_only_cpu"]) / np.array(r["bare_cpu"]))},
            "panel_over_cli": spread(np.array(r["panel"]) / np.array(r["cli"])),
            "process_over_bare": spread(np.array(r["process"]) / bare),
            "note": "panel: Start to the final checkpoint with nothing else on the GUI thread; panel_probed: the same "
                    "while the 10 ms lateness probe runs; process: the same GUI and probe, trainer in a spawned "
                    "process (messages through a multiprocessing queue drained every 20 ms)"}


def report(case: str, c: dict) -> None:
    def m(d):
        return f"{d['median']:.3g} ({d['min']:.3g}..{d['max']:.3g})"
    t, p = c["lateness_ms"]["panel_thread"], c["lateness_ms"]["panel_process"]
    verdict = {True: "met", False: "MISSED"}
    print(f"{case}: (a) lateness ms, trainer on a thread: p50 {m(t['p50'])}, p99 {m(t['p99'])}, max {m(t['max'])}; "
          f"goal p99 < 20: {verdict[t['p99']['median'] < 20]}")
    print(f"{case}:     trainer in a process: p50 {m(p['p50'])}, p99 {m(p['p99'])}, max {m(p['max'])}; "
          f"idle p99 {c['lateness_ms']['idle_reference']['p99']:.2f}")
    print(f"{case}: (b) panel / bare {m(c['panel_over_bare'])}; goal >= 0.9: "
          f"{verdict[c['panel_over_bare']['median'] >= 0.9]}  [panel / cli {m(c['panel_over_cli'])}; with the probe "
          f"running: thread {m(c['panel_probed_over_bare'])}, process {m(c['process_over_bare'])}]")
    print(f"{case}: (c) cli / bare {m(c['cli_over_bare'])}; goal >= 0.97: "
          f"{verdict[c['cli_over_bare']['median'] >= 0.97]}  [without checkpoints {m(c['cli_loop_only_over_bare'])}]")
    print(f"{case}:     per CPU-second of the training thread: cli / bare {m(c['cpu_time']['cli_over_bare'])}, "
          f"without checkpoints {m(c['cpu_time']['cli_loop_only_over_bare'])}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cases", default=",".join(CASES))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from latent_atlas.editor.app import create_window
    from latent_atlas.editor.training.training_panel import TrainingPanel

    _, window = create_window(device="cpu")
    window.resize(1280, 800)
    window.show()
    panel = next(window.tools.widget(i) for i in range(window.tools.count())
                 if isinstance(window.tools.widget(i), TrainingPanel))
    window.tools.setCurrentWidget(panel)
    probe = LatenessProbe()
    results = {"machine": {**describe_machine(), "load_average_at_start": os.getloadavg()},
               "torch_threads": args.threads, "runs": args.runs, "tick_ms": TICK_MS, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            results["cases"][case] = measure_case(case, args.runs, args.threads, panel, probe, tmp)
            report(case, results["cases"][case])
    results["machine"]["load_average_at_end"] = os.getloadavg()
    panel.shutdown()
    window.controller.shutdown()
    write_results("training", results)


if __name__ == "__main__":
    main()
