"""Contended conditions for the interactive benchmarks (bench_click, bench_drag): the same measurement while
the app's own Training tab trains a model (the editor's TrainingWorker, in this process) and while another
process keeps one core busy (a burner subprocess), each against the quiet run in the same invocation."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

CONDITIONS = ("quiet", "training", "burner")
BURNER = "while True:\n    pass\n"


def training_panel(window):
    from latent_atlas.editor.training.training_panel import TrainingPanel

    return next(window.tools.widget(i) for i in range(window.tools.count())
                if isinstance(window.tools.widget(i), TrainingPanel))


@contextlib.contextmanager
def training(app, window, folder: Path, dataset: str = "fashion-mnist"):
    """The Training tab's Start with a run far longer than the measurement; stopped (and waited for) after."""
    from latent_atlas.editor.core.training_setup import form_for

    panel = training_panel(window)
    out = Path(folder) / f"contended-{time.monotonic_ns()}.safetensors"
    form = form_for(dataset, epochs=1000, limit=5000, out=str(out))
    worker = panel.start(form)
    if worker is None:
        raise RuntimeError("the Training tab is still running a model")
    t0 = time.perf_counter()
    while panel.info is None and worker.isRunning() and time.perf_counter() - t0 < 120:
        app.processEvents()          # until the data is loaded and the first step is near
    if not worker.isRunning():
        raise RuntimeError(f"the contending training run ended early: {panel.stats.text()}")
    try:
        yield worker
    finally:
        panel.stop()
        while worker.isRunning():
            app.processEvents()
            worker.wait(20)
        app.processEvents()


@contextlib.contextmanager
def burner():
    """Another process spinning on one core."""
    proc = subprocess.Popen([sys.executable, "-c", BURNER])
    time.sleep(0.3)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def condition(name: str, app, window, folder: Path):
    if name == "training":
        return training(app, window, folder)
    if name == "burner":
        return burner()
    return contextlib.nullcontext()
