"""Background jobs with progress and cancel (open a checkpoint, fit t-SNE, invert an image).

One QThread per job; the job is a plain function `fn(progress, should_stop) -> result` from
editor.core, so it is testable without Qt.
"""
from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QThread, Signal

from latent_atlas.models.errors import LatentAtlasError


class JobWorker(QThread):
    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, name: str, fn: Callable, parent=None):
        super().__init__(parent)
        self.name = name
        self._fn = fn
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        from latent_atlas.editor.core.loaded_model import Cancelled
        from latent_atlas.models.latent.projection import ProjectionStopped
        from latent_atlas.models.threads import use_batch_threads

        use_batch_threads()                    # encoding a data set, fitting a projection: throughput
        try:
            result = self._fn(self.progressed.emit, self._cancel.is_set)
        except (Cancelled, ProjectionStopped):
            self.cancelled.emit()
            return
        except LatentAtlasError as e:
            self.failed.emit(str(e))
            return
        except Exception as e:   # anything else (out of memory, a bug) still reaches the user as a dialog
            traceback.print_exc()
            self.failed.emit(f"{self.name} failed: {type(e).__name__}: {e}")
            return
        if self._cancel.is_set():
            self.cancelled.emit()
        else:
            self.succeeded.emit(result)
