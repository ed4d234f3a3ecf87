"""The thread that owns the open model and runs every network call the editor makes.

It keeps only the newest request per purpose: a drag across the map sends hundreds of requests,
and only the last one matters. Input goes through a lock and an event (not queued slots), so the
GUI never waits on it; results come back as queued Qt signals.
"""
from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QThread, Signal

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.editor.core.messages import DecodeRequest, DecodeResult

if TYPE_CHECKING:            # torch is first imported here, on this thread, by the first request
    import torch


@dataclass(frozen=True)
class ModelTask:
    """Any other network call (encode an image, density of the current image): fn(model) -> object."""
    id: int
    purpose: str
    fn: Callable


class DecodeWorker(QThread):
    decoded = Signal(object)       # DecodeResult
    task_done = Signal(int, str, object)   # id, purpose, result
    failed = Signal(str, str)      # purpose, message

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: dict[str, DecodeRequest | ModelTask] = {}
        self._model = None
        self._next_model = None
        self._quit = False
        self._threads_set = False

    # -- called from the GUI thread -----------------------------------------------------------------
    def submit(self, request: DecodeRequest | ModelTask) -> None:
        with self._lock:
            self._pending[request.purpose] = request   # replaces an older request of the same purpose
        self._wake.set()

    def set_model(self, model) -> None:
        """Hand over a model; applied between requests. The caller must not use it afterwards."""
        with self._lock:
            self._next_model = model
            self._pending.clear()
        self._wake.set()

    def move_to(self, device: torch.device) -> None:
        self.submit(ModelTask(-1, "device", lambda m: m.to(device)))

    def stop(self) -> None:
        with self._lock:
            self._quit = True
        self._wake.set()

    def interactive_waiting(self) -> bool:
        """True while a decode (a click, a strip) or a new model waits: long tasks check it between steps
        and give way (thread-safe; called from the worker's own thread)."""
        with self._lock:
            return self._next_model is not None or any(isinstance(r, DecodeRequest) for r in self._pending.values())

    # -- the thread ---------------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                self._wake.clear()
                if self._quit:
                    return
                if self._next_model is not None:
                    self._model, self._next_model = self._next_model, None
                pending, self._pending = self._pending, {}
            for request in pending.values():
                if self._model is None:
                    break
                try:
                    self._handle(request)
                except Exception as e:   # a failing request must not kill the thread
                    traceback.print_exc()
                    self.failed.emit(request.purpose, f"{type(e).__name__}: {e}")

    def _handle(self, request) -> None:
        import torch

        if not self._threads_set:               # this thread's own count: latency, not throughput
            from latent_atlas.models.threads import use_interactive_threads
            use_interactive_threads()
            self._threads_set = True
        with torch.inference_mode():
            self._handle_request(request)

    def _handle_request(self, request) -> None:
        model = self._model
        if isinstance(request, ModelTask):
            self.task_done.emit(request.id, request.purpose, request.fn(model))
            return
        t0 = time.perf_counter()
        z = request.z.to(model.device).float()
        z = z.unsqueeze(0) if z.dim() == 1 else z                 # (B, D)
        c = None
        if request.c is not None:
            c = request.c.to(model.device).float()
            c = c.unsqueeze(0).expand(z.shape[0], -1) if c.dim() == 1 else c
        images = images_to_hwc_uint8(model.decode(z, c))          # (B, H, W, C) uint8
        elapsed = (time.perf_counter() - t0) * 1000.0
        self.decoded.emit(DecodeResult(request.id, request.purpose, images, elapsed))
