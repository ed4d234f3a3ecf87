"""The Training panel: the form, Start / Pause / Stop, live loss curves, a preview grid, and the result.

Training runs on a TrainingWorker thread that owns its model. Its events only append numbers to a
LossBuffer here; a timer (5 Hz) redraws the plots and the progress, so the GUI does a bounded amount of
work however fast the trainer reports. The editor stays usable while a model trains.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from latent_atlas.editor.core.clock_text import clock
from latent_atlas.editor.core.loss_buffer import LossBuffer
from latent_atlas.editor.core.training_setup import (
    RunInfo,
    TrainingForm,
    check_form,
    plotted_terms,
    resume_form,
)
from latent_atlas.editor.training.loss_plots import LossPlots
from latent_atlas.editor.training.preview_grid import PreviewGrid
from latent_atlas.editor.training.probe_plot import ProbePlot
from latent_atlas.editor.training.training_form import TrainingFormWidget
from latent_atlas.editor.widgets.plain_text import message_box
from latent_atlas.editor.widgets.status_line import StatusLine
from latent_atlas.editor.workers.training_worker import PreviewImages, TrainingWorker
from latent_atlas.models.data.recorded_source import RecordedSourceRefused
from latent_atlas.models.errors import LatentAtlasError

REDRAW_MS = 200                 # 5 Hz: each redraw costs the GUI thread, and the GIL, a few ms


def ask_stop_and_save(parent) -> bool:
    """The question on closing during training: True = stop and save, then close; False = keep training."""
    box = message_box(QMessageBox.Icon.Question, "Training is running",
                      "A model is still training. Stop it, save a resumable checkpoint and close?",
                      QMessageBox.StandardButton.NoButton, parent)
    stop = box.addButton("Stop and save", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return box.clickedButton() is stop


def _ask_checkpoint(parent) -> str:
    return QFileDialog.getOpenFileName(parent, "Resume training from", "",
                                       "Latent Atlas checkpoints (*.safetensors);;All files (*)")[0]


class TrainingPanel(QWidget):
    error = Signal(str, str)                  # title, message: the window shows a dialog
    open_requested = Signal(str)              # a checkpoint to open in the editor
    run_finished = Signal(str)                # "done", "stopped", "diverged" or "failed"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.confirm = lambda: ask_stop_and_save(self)   # replaceable: tests and scripts answer it
        self.ask_checkpoint = _ask_checkpoint
        self.buffer = LossBuffer()
        self.worker: TrainingWorker | None = None
        self.info: RunInfo | None = None
        self.last_event = None                  # the newest TrainEvent with a step count (progress or end)
        self.last_rate = 0.0                    # images/s of the newest progress event
        self.last_checkpoint = ""               # newest checkpoint this panel's runs wrote
        self.last_good = ""                     # after a divergence: the checkpoint kept from before it
        self.warnings: list[str] = []
        self._ending = ""                       # why the last run ended badly, shown once its thread is done
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._redraw)
        self._set_running(False)

    def _build(self) -> None:
        self.form = TrainingFormWidget()
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume from…")
        self.open_button = QPushButton("Open in editor")
        self.last_good_button = QPushButton("Open last good checkpoint")
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume_dialog)
        self.open_button.clicked.connect(lambda: self.open_requested.emit(self.last_checkpoint))
        self.last_good_button.clicked.connect(lambda: self.open_requested.emit(self.last_good))
        self.open_button.setEnabled(False)
        self.last_good_button.hide()
        buttons = QGridLayout()
        buttons.setSpacing(3)
        for i, b in enumerate((self.start_button, self.pause_button, self.stop_button, self.resume_button)):
            buttons.addWidget(b, i // 2, i % 2)
        buttons.addWidget(self.open_button, 2, 0, 1, 2)
        buttons.addWidget(self.last_good_button, 3, 0, 1, 2)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFormat("%p%")
        # one line (elided, the whole text in its tooltip): a wrapped line grew the window after a run
        self.stats = StatusLine("Pick a model and a dataset, then Start.")
        self.stats.setStyleSheet("color: #aaaaaa; font-size: 9pt;")
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)
        lv.addWidget(self.form)
        lv.addLayout(buttons)
        lv.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(left.sizeHint().width() + 16)
        scroll.setMaximumWidth(left.sizeHint().width() + 40)
        self.plots = LossPlots(self.buffer)
        self.preview = PreviewGrid(min_size=120)
        self.preview.setMaximumSize(190, 170)
        self.preview.clear("samples, once a run starts")
        self.probe = ProbePlot()
        self.probe.setMinimumSize(150, 140)        # shrinks a little in a narrow tab rather than scroll it
        self.probe.setMaximumSize(190, 170)
        self.probe.hide()                          # shown once a run with an encoder sends its first map
        self.progress_bar.setFixedWidth(110)
        status = QHBoxLayout()                     # one line under the plots, the whole width
        status.addWidget(self.progress_bar)
        status.addWidget(self.stats, 1)
        # side by side where the tab is wide enough, one above the other where not (the default window's
        # tab is ~530 px: side by side they pushed the probe map off the page behind a horizontal scroll bar)
        bottom = self._images_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        bottom.addWidget(self.preview)
        bottom.addWidget(self.probe)
        bottom.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.plots, 1)
        right.addLayout(status)
        right.addLayout(bottom)
        content = QWidget()
        layout = QHBoxLayout(content)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll)
        layout.addLayout(right, 1)
        page = QScrollArea()                  # a short window scrolls the tab rather than growing
        page.setWidget(content)
        page.setWidgetResizable(True)
        page.setFrameShape(QScrollArea.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(page)
        self._page, self._form_column = page, scroll

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange_images()

    def _arrange_images(self) -> None:
        """Preview and probe map beside each other when both fit right of the form, else stacked."""
        room = self.width() - self._form_column.minimumWidth() - 24
        wanted = self.preview.maximumWidth() + (0 if self.probe.isHidden() else self.probe.maximumWidth() + 12)
        direction = QBoxLayout.Direction.LeftToRight if room >= wanted else QBoxLayout.Direction.TopToBottom
        if self._images_row.direction() != direction:
            self._images_row.setDirection(direction)

    # -- actions --------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def start(self, form: TrainingForm | None = None) -> TrainingWorker | None:
        """Starts a run with `form` (default: what the form shows). None if one is still running, or if the
        form asks for something the run specification refuses (shown, no thread started)."""
        if self.running:
            return None
        form = form or self.form.form()
        try:
            check_form(form)         # header reads and stats only: the GUI thread may; the data loads later
        except LatentAtlasError as e:
            self.error.emit("Cannot start training", str(e))
            return None
        if self.worker is not None:
            self.worker.deleteLater()
        # now, not once training competes for the GIL
        self.plots.set_terms(plotted_terms(form.family, form.consistency))
        self.buffer.reset()
        self.preview.clear("preparing…")
        self.probe.clear()
        self.probe.hide()
        self.info, self.last_event, self.last_rate, self.warnings, self.last_good = None, None, 0.0, [], ""
        self._ending = ""
        self.last_good_button.hide()
        self.progress_bar.setValue(0)
        self.stats.setText(f"Loading {form.dataset} and building the model…")
        worker = TrainingWorker(form, parent=self)
        worker.prepared.connect(self._on_worker_prepared)
        worker.progressed.connect(self._on_worker_progressed)
        worker.preview_ready.connect(self._on_worker_preview)
        worker.diverged.connect(self._on_worker_diverged)
        worker.failed.connect(self._on_worker_failed)
        worker.finished.connect(lambda w=worker: self._on_worker_finished(w))
        self.worker = worker
        worker.start()
        self._set_running(True)
        self.timer.start()
        return worker

    def toggle_pause(self) -> None:
        if not self.running:
            return
        if self.worker.paused:
            self.worker.resume()
        else:
            self.worker.pause()
        self.pause_button.setText("Resume" if self.worker.paused else "Pause")
        self._redraw()

    def stop(self) -> None:
        """Stops before the next step; the trainer saves a resumable checkpoint."""
        if self.running:
            self.worker.stop()
            self.stop_button.setEnabled(False)
            self.pause_button.setEnabled(False)
            self.stats.setText("Stopping and saving…")

    def resume_dialog(self) -> None:
        path = self.ask_checkpoint(self)
        if path:
            self.resume_from(path)

    def resume_from(self, path: str) -> TrainingWorker | None:
        """Continues the run saved in `path` (same file), its curves included."""
        try:
            form = resume_form(path, self.form.form())
        except RecordedSourceRefused as e:      # shown, not started: the user picks the data, then Train
            self.form.set_form(resume_form(path, self.form.form(), keep_dataset=True))
            self.error.emit("Choose the data to resume on", f"{e}; choose the data set in the form, then "
                            "press Start to resume")
            return None
        except LatentAtlasError as e:
            self.error.emit("Cannot resume", str(e))
            return None
        self.form.set_form(form)
        return self.start(form)

    def confirm_close(self) -> bool:
        """The window's close hook: while training, ask; "stop and save" waits for the final checkpoint."""
        if not self.running:
            return True
        if not self.confirm():
            return False
        self.shutdown()
        return True

    def shutdown(self) -> None:
        """Stops a run and waits for its thread (the final checkpoint included)."""
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait()
        self.timer.stop()

    # -- from the worker (queued onto the GUI thread) -------------------------------------------------
    def _on_worker_prepared(self, info: RunInfo) -> None:
        self.info = info
        if info.terms != self.plots.terms:
            self.plots.set_terms(info.terms)
        self.buffer.reset(info.terms)
        if info.history:
            self.buffer.load_history(info.history, info.steps_per_epoch)
        self.warnings.extend(info.warnings)
        # the file this run writes, and no standing leave to replace it: the next Start asks again
        self.form.set_form(replace(self.form.form(), out=info.out, overwrite=False))

    def _on_worker_progressed(self, events: list) -> None:
        """Numbers into the buffer only; the timer draws them."""
        for event in events:
            if event.kind == "progress":
                self.buffer.append(event.step, event.terms)
                self.last_event, self.last_rate = event, event.images_per_s
            elif event.kind == "epoch":
                self.buffer.mark_epoch(event.step)
            elif event.kind == "checkpoint":
                self.last_checkpoint = event.message
            elif event.kind == "warning":
                self.warnings.append(event.message)
            elif event.kind in ("done", "stopped"):
                self.last_event = event
                self.last_checkpoint = event.message or self.last_checkpoint

    def _on_worker_preview(self, preview: PreviewImages) -> None:
        self.preview.show_images(preview.images, preview.step)
        if preview.probe is not None:
            self.probe.show_points(preview.probe, preview.probe_labels, preview.step)
            if self.probe.isHidden():
                self.probe.show()
                self._arrange_images()

    def _on_worker_diverged(self, message: str, step: int, last_good: str) -> None:
        self.last_good = last_good if last_good and Path(last_good).exists() else ""
        self.last_good_button.setVisible(bool(self.last_good))
        self._ending = f"Diverged at step {step:,}" + (f"; kept {self.last_good}" if self.last_good else "")
        self.error.emit("Training diverged", message if f"step {step}" in message else f"step {step}: {message}")

    def _on_worker_failed(self, message: str) -> None:
        self._ending = f"Failed: {message}"
        self.error.emit("Training failed", message)

    def _on_worker_finished(self, worker: TrainingWorker) -> None:
        if worker is not self.worker:
            return
        self.timer.stop()
        self._redraw()
        if self._ending:
            self.stats.setText(self._ending)
        self._set_running(False)
        self.run_finished.emit(worker.outcome)

    # -- drawing (timer) ------------------------------------------------------------------------------
    def _redraw(self) -> None:
        self.plots.refresh()
        e, info = self.last_event, self.info
        if info is None or e is None:
            return
        self.progress_bar.setValue(round(1000 * e.step / max(1, e.total_steps)))
        epoch = min(e.step // max(1, info.steps_per_epoch) + 1, max(1, e.total_steps // info.steps_per_epoch))
        trained = e.step - info.start_step
        eta = e.elapsed_s * (e.total_steps - e.step) / trained if trained > 0 else float("nan")
        w = self.worker
        busy = "Stopping and saving" if w is not None and w.stopping else "Paused" if w is not None and w.paused \
            else "Training"
        state = {"done": "Done", "stopped": "Stopped"}.get(e.kind, busy)
        eta_text = "paused" if state == "Paused" else clock(eta)     # a paused run has no finishing time
        self.stats.setText(f"{state} · epoch {epoch} · step {e.step:,} / {e.total_steps:,} · "
                           f"{self.last_rate:,.0f} images/s · elapsed {clock(e.elapsed_s)} · ETA {eta_text}"
                           + (f"\n⚠ {self.warnings[-1]}" if self.warnings else ""))

    def _set_running(self, running: bool) -> None:
        self.form.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.stop_button.setEnabled(running)
        self.open_button.setEnabled(not running and bool(self.last_checkpoint)
                                    and Path(self.last_checkpoint).exists())
