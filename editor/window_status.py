"""The main window's status bar: what a job is doing (its line, a progress bar and Cancel) on the left; the
model open, the device and the last decode's time on the right. It follows the controller's signals.

t-SNE reports its iterations, so its bar is determinate with the time left; UMAP says nothing until it is
done, so its bar runs indefinitely (and the first UMAP of a session also compiles UMAP's code).
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QProgressBar, QPushButton, QStatusBar

from latent_atlas.editor.core.clock_text import clock
from latent_atlas.editor.map.map_toolbar import method_name
from latent_atlas.editor.widgets.plain_text import PlainLabel
from latent_atlas.models.latent.cancellable_process import shared_worker


class WindowStatus(QObject):
    def __init__(self, status: QStatusBar, controller, parent=None):
        super().__init__(parent)
        self._umap_worker_pid = None           # the worker process that has compiled UMAP's code, if any
        self._projection_text = ""              # the running fit's line
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress_label = PlainLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(controller.cancel_jobs)
        for w in (self.progress, self.cancel_button, self.progress_label):   # the line that grows goes last:
            status.addWidget(w)                                              # the bar and Cancel stay put
            w.hide()
        self._rate_from: tuple[float, float] | None = None    # (time, fraction) of the fit's first report
        self.model_label = PlainLabel("no model")
        self.device_label = PlainLabel("device: –")
        self.timing_label = PlainLabel("decode: –")
        for w in (self.model_label, self.device_label, self.timing_label):
            status.addPermanentWidget(w)
        c = controller
        c.load_started.connect(lambda p: self.busy(f"Opening {Path(p).name}"))
        c.load_progress.connect(self._on_progress)
        c.load_failed.connect(lambda _message: self.idle())
        c.load_cancelled.connect(self.idle)
        c.model_loaded.connect(self._on_model_loaded)
        c.projection_started.connect(self._on_projection_started)
        c.projection_progress.connect(self._on_projection_progress)
        c.projection_ready.connect(self._on_projection_ready)
        c.projection_failed.connect(lambda _message: self.idle())
        c.projection_cancelled.connect(lambda _method: self.idle())
        c.decode_timing.connect(lambda ms: self.timing_label.setText(f"decode: {ms:.1f} ms"))
        c.device_changed.connect(self.show_device)

    def show_device(self, device) -> None:
        self.device_label.setText(f"device: {device}")

    def busy(self, text: str, indefinite: bool = False) -> None:
        self.progress_label.setText(text)
        self.progress.setRange(0, 0 if indefinite else 1000)
        self.progress.setValue(0)
        for w in (self.progress_label, self.progress, self.cancel_button):
            w.show()

    def idle(self) -> None:
        for w in (self.progress_label, self.progress, self.cancel_button):
            w.hide()

    def _on_model_loaded(self, loaded) -> None:
        self.idle()
        self.model_label.setText(f"{loaded.name} · {loaded.kind} · z{loaded.info.latent_dim}")

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress_label.setText(text)

    def _on_projection_started(self, method: str) -> None:
        text = f"Computing {method_name(method)}…"
        pid = shared_worker().pid
        if method == "umap" and (pid is None or pid != self._umap_worker_pid):
            text += " (the first UMAP of a session also compiles UMAP's code: about 30 s more)"
        self._projection_text = text
        self._rate_from = None
        self.busy(text, indefinite=method != "tsne")     # UMAP says nothing until it is done

    def _on_projection_progress(self, fraction: float, method: str) -> None:
        """A determinate bar and the time left, from the fraction done so far (t-SNE's iterations)."""
        if method != "tsne" or not self.progress.isVisible():
            return
        value = int(fraction * 1000)
        self.progress.setValue(value)
        now = time.perf_counter()
        if self._rate_from is None:           # the time before the first iteration (the neighbour graph) is
            self._rate_from = (now, fraction)  # not the iterations' pace: the time left counts from here
        t0, f0 = self._rate_from
        done = fraction - f0
        left = f" · about {clock((now - t0) * (1 - fraction) / done)} left" if done >= 0.1 and fraction >= 0.15 else ""
        # the bar's own percentage (QProgressBar truncates), so the line and the bar never disagree
        self.progress_label.setText(f"{self._projection_text} {value // 10}%{left}")

    def _on_projection_ready(self, method: str) -> None:
        self.idle()
        if method == "umap":                   # t-SNE and UMAP run in one worker process, kept between fits
            self._umap_worker_pid = shared_worker().pid
