"""The training thread: builds its own model and iterates `Trainer.run()`, the loop the command line runs.

Only this thread touches the model it trains. It emits plain numbers (TrainEvent, at the trainer's
~10 per second) and, every few seconds between steps, a preview grid decoded from fixed latents as uint8.
Control comes in through thread-safe calls (stop / pause / resume set events; the trainer checks them
between steps), never through queued slots: a thread inside a long loop does not run an event loop.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QThread, Signal

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.editor.core.training_setup import PreparedRun, TrainingForm, prepare_run
from latent_atlas.models.errors import LatentAtlasError, TrainingDiverged

PREVIEW_EVERY_S = 3.0


@dataclass(frozen=True)
class PreviewImages:
    step: int
    images: np.ndarray          # (B, H, W, C) uint8, the same latents every time
    probe: np.ndarray | None = None          # (N, 2) the probe images' posterior means on a 2-D map
    probe_labels: np.ndarray | None = None   # (N,) their classes, for colour (None: no labels)


class TrainingWorker(QThread):
    prepared = Signal(object)               # RunInfo, once, before the first step
    progressed = Signal(object)             # list[TrainEvent] (progress, epoch, checkpoint, warning, done,
    #                                         stopped), oldest first, at most ~10 lists a second
    preview_ready = Signal(object)          # PreviewImages
    diverged = Signal(str, int, str)        # message, step, last good checkpoint ("" if none was written)
    failed = Signal(str)                    # any other error, in words

    def __init__(self, form: TrainingForm, preview_every_s: float = PREVIEW_EVERY_S, parent=None):
        super().__init__(parent)
        self.form = form
        self.preview_every_s = preview_every_s
        self._lock = threading.Lock()
        self._trainer = None                # set on this thread once built; read under the lock
        self._stop = threading.Event()
        self._pause = threading.Event()
        self.outcome = ""                   # "done", "stopped", "diverged", "failed" once finished

    # -- control, from any thread -------------------------------------------------------------------
    def stop(self) -> None:
        """Stop before the next step; the trainer then saves a resumable checkpoint."""
        self._stop.set()
        self._pause.clear()
        with self._lock:
            if self._trainer is not None:
                self._trainer.stop()

    def pause(self) -> None:
        self._pause.set()
        with self._lock:
            if self._trainer is not None:
                self._trainer.pause()

    def resume(self) -> None:
        self._pause.clear()
        with self._lock:
            if self._trainer is not None:
                self._trainer.unpause()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() and self.isRunning()

    # -- the thread -----------------------------------------------------------------------------------
    def run(self) -> None:
        from latent_atlas.models.threads import INTERACTIVE, lower_this_threads_priority, use_batch_threads

        lower_this_threads_priority()          # the kernel runs a click's decode and the GUI first
        use_batch_threads()                    # this thread's own pool: the decode worker keeps its one
        run = None
        try:
            run = prepare_run(self.form)
            run.trainer.give_way = INTERACTIVE.give_way   # a click's or a drag's decode goes first (issue 18)
            with self._lock:
                self._trainer = run.trainer
                if self._stop.is_set():
                    self.outcome = "stopped"
                    return                  # stopped while the data loaded: nothing trained, nothing to save
                if self._pause.is_set():
                    run.trainer.pause()
            self.prepared.emit(run.info())
            self._train(run)
        except TrainingDiverged as e:
            self.outcome = "diverged"
            trainer = run.trainer if run is not None else None
            last = trainer.last_saved if trainer is not None and trainer.last_saved else ""
            self.diverged.emit(str(e), trainer.step if trainer is not None else 0, str(last))
        except LatentAtlasError as e:
            self.outcome = "failed"
            self.failed.emit(str(e))
        except Exception as e:   # out of memory, a full disk, a bug: the user gets a dialog, the app lives on
            traceback.print_exc()
            self.outcome = "failed"
            self.failed.emit(f"training failed: {type(e).__name__}: {e}")
        finally:
            with self._lock:
                self._trainer = None        # drops the model here, on its own thread

    def _train(self, run: PreparedRun) -> None:
        self._emit_preview(run)
        last_preview = last_emit = time.perf_counter()
        batch, last = [], None
        for event in run.trainer.run():
            batch.append(event)
            last = event
            now = time.perf_counter()
            # tiny epochs end several times a second, each with epoch and checkpoint events: sending them
            # in batches keeps the GUI thread's wake-ups (each one a wait for the GIL) near 10 a second
            if now - last_emit >= self.form.event_interval or event.kind in ("done", "stopped", "warning"):
                self.progressed.emit(batch)
                batch, last_emit = [], now
            if event.kind in ("done", "stopped"):
                break
            if now - last_preview >= self.preview_every_s:
                self._emit_preview(run)
                last_preview = time.perf_counter()
        if batch:
            self.progressed.emit(batch)
        self._emit_preview(run)
        self.outcome = last.kind if last is not None else "stopped"

    def _emit_preview(self, run: PreparedRun) -> None:
        """Decodes the fixed latents, and re-encodes the probe images, between two steps; this thread owns
        the model, so it may."""
        model = run.trainer.model
        was_training = model.training
        model.eval()
        probe = run.probe
        coords = None
        try:
            with torch.inference_mode():
                images = images_to_hwc_uint8(model.decode(run.preview_z, run.preview_c))
                if probe is not None:
                    x = probe.images.to(model.device).float().div_(255.0)
                    c = None if probe.conditions is None else probe.conditions.to(model.device)
                    coords = probe.projector.project(model.encode(x, c)[0].float().cpu().numpy())
        finally:
            model.train(was_training)
        self.preview_ready.emit(PreviewImages(run.trainer.step, images, coords,
                                              None if probe is None else probe.labels))
