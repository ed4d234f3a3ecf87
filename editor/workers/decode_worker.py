"""The thread that owns the open model and runs every network call the editor makes.

It takes typed requests (editor/core/messages.py) and dispatches on their type: no code written
elsewhere runs here. It keeps only the newest request per channel: a drag across the map sends
hundreds of requests, and only the last one matters. Input goes through a lock and an event (not
queued slots), so the GUI never waits on it; answers come back as queued Qt signals.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import TYPE_CHECKING

from PySide6.QtCore import QThread, Signal

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.editor.core.messages import (
    DecodeRequest,
    DecodeResult,
    DensityRequest,
    EncodeRequest,
    ModelCopyRequest,
    MoveRequest,
    OffDataRequest,
)
from latent_atlas.models.threads import INTERACTIVE

if TYPE_CHECKING:            # torch is first imported here, on this thread, by the first request
    import torch

DEVICE_KEY = "device"        # the channel key of the worker's own MoveRequest
GIVES_WAY = (OffDataRequest, DensityRequest)    # not started while a decode waits (a person waits on that)
LAYOUT_IDLE_S = 0.5          # the memory layout is timed once the worker has had no request for this long


class DecodeWorker(QThread):
    answered = Signal(str, int, object)   # channel key, request id, the answer (a DecodeResult for a decode)
    failed = Signal(str, int, str)        # channel key, request id, message

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: dict[str, object] = {}     # channel key -> its newest request
        self._model = None
        self._next_model = None
        self._quit = False
        self._threads_set = False
        self._layout_due = False                  # the model's memory layout is chosen once it is idle
        self.layout: str | None = None            # the layout chosen for the current model (for tests, benches)
        self._handlers = {DecodeRequest: self._decode, DensityRequest: self._density,
                          EncodeRequest: self._encode, ModelCopyRequest: self._copy,
                          OffDataRequest: self._off_data, MoveRequest: self._move}

    # -- called from the GUI thread -----------------------------------------------------------------
    def submit(self, key: str, request) -> None:
        """Queues `request` for channel `key`, replacing an older request of that channel."""
        if type(request) not in self._handlers:     # a lambda or partial would run a panel's code here
            raise TypeError(f"the decode worker takes no {type(request).__name__}: "
                            "send a request of editor/core/messages.py")
        if isinstance(request, DecodeRequest):
            INTERACTIVE.touch()                      # a person waits on it: training in this process holds back
        with self._lock:
            self._pending[key] = request
        self._wake.set()

    def set_model(self, model) -> None:
        """Hand over a model; applied between requests. The caller must not use it afterwards."""
        with self._lock:
            self._next_model = model
            self._pending.clear()
        self._wake.set()

    def move_to(self, device: torch.device) -> None:
        self.submit(DEVICE_KEY, MoveRequest(device))

    def stop(self) -> None:
        with self._lock:
            self._quit = True
        self._wake.set()

    def interactive_waiting(self) -> bool:
        """True while a decode (a click, a strip) or a new model waits: long requests check it between
        steps and give way (thread-safe; called from the worker's own thread)."""
        with self._lock:
            return self._next_model is not None or self._decode_pending()

    def _decode_pending(self) -> bool:
        """A decode (a click, a strip) waits; the caller holds the lock."""
        return any(isinstance(r, DecodeRequest) for r in self._pending.values())

    # -- the thread ---------------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            if not self._wake.wait(LAYOUT_IDLE_S if self._layout_due else None):
                if self._model is not None and not self._asked():     # idle that long: time the layouts
                    self._choose_layout()
                continue
            with self._lock:
                self._wake.clear()
                if self._quit:
                    return
                if self._next_model is not None:
                    self._model, self._next_model = self._next_model, None
                    self._layout_due, self.layout = True, None
                pending, self._pending = self._pending, {}
            # decodes first: a long request (the density line) gives way to decodes that arrive while it runs
            # (interactive_waiting), but one taken in the same batch behind it waited for the whole estimate
            # (the first strip of a drag after its release: 11 s on the bundled VAE)
            for key, request in sorted(pending.items(), key=lambda item: not isinstance(item[1], DecodeRequest)):
                if self._model is None:
                    break
                if isinstance(request, GIVES_WAY) and self._put_back(key, request):
                    continue
                try:
                    answer = self._handle(key, request)
                    if isinstance(request, DecodeRequest):
                        INTERACTIVE.touch()
                    self.answered.emit(key, request.id, answer)
                except Exception as e:   # a failing request must not kill the thread
                    traceback.print_exc()
                    self.failed.emit(key, request.id, f"{type(e).__name__}: {e}")

    def _choose_layout(self) -> None:
        """Times the model's strip-sized decode in both memory layouts and keeps the faster
        (models/memory_format.py). Run once the worker has been idle LAYOUT_IDLE_S (not between the clicks
        or strips of a person at work) and stopped between two timed decodes by a request that arrives (a click
        waits at most one probe decode); it tries again when the worker is next idle that long."""
        import torch

        from latent_atlas.models.memory_format import CONTIGUOUS, use_fastest_format

        self._use_own_threads()
        try:
            with torch.inference_mode():
                chosen = use_fastest_format(self._model, should_stop=self._asked)
        except Exception:            # only a speed-up: a model that refuses a layout decodes as before, in NCHW
            traceback.print_exc()
            self._model.to(memory_format=torch.contiguous_format)
            chosen = CONTIGUOUS
        self._layout_due = chosen is None
        self.layout = chosen or self.layout

    def _asked(self) -> bool:
        with self._lock:
            return bool(self._pending) or self._next_model is not None or self._quit

    def _put_back(self, key: str, request) -> bool:
        """True when a decode waits: `request` goes back to wait behind it, unless its channel sent a newer one
        meanwhile (then it is dropped). A drag sends a decode at every move and each strip its off-data check;
        the checks of strips already replaced took a core's fifth on a 64x64 model, and a drag on a machine
        whose other core was busy showed 0.69 of its quiet strips/s."""
        with self._lock:
            if self._next_model is not None:    # asked of the model being replaced: dropped, as set_model drops the rest
                return True
            if not self._decode_pending():
                return False
            self._pending.setdefault(key, request)
        self._wake.set()
        return True

    def _handle(self, key: str, request):
        import torch

        self._use_own_threads()
        with torch.inference_mode():
            return self._handlers[type(request)](key, request)

    def _use_own_threads(self) -> None:
        if not self._threads_set:               # this thread's own count: latency, not throughput
            from latent_atlas.models.threads import use_interactive_threads
            use_interactive_threads()
            self._threads_set = True

    # -- one handler per request type (run on this thread, under inference mode) ----------------------
    def _decode(self, key: str, request: DecodeRequest) -> DecodeResult:
        model = self._model
        t0 = time.perf_counter()
        z = request.z.to(model.device).float()
        z = z.unsqueeze(0) if z.dim() == 1 else z                 # (B, D)
        c = None
        if request.c is not None:
            c = request.c.to(model.device).float()
            c = c.unsqueeze(0).expand(z.shape[0], -1) if c.dim() == 1 else c
        images = images_to_hwc_uint8(model.decode(z, c))          # (B, H, W, C) uint8
        elapsed = (time.perf_counter() - t0) * 1000.0
        return DecodeResult(request.id, images, elapsed)

    def _density(self, key: str, request: DensityRequest):
        from latent_atlas.editor.core.density import density_of

        return density_of(self._model, request.z, request.condition, request.off, note=request.note,
                          should_stop=self.interactive_waiting)

    def _encode(self, key: str, request: EncodeRequest):
        from latent_atlas.editor.core.inversion import encode_image

        return encode_image(self._model, request.image, request.condition)

    def _copy(self, key: str, request: ModelCopyRequest):
        from latent_atlas.editor.core.inversion import copy_for_inversion

        return copy_for_inversion(self._model)

    def _off_data(self, key: str, request: OffDataRequest):
        return request.off.frames_off_data(request.frames)

    def _move(self, key: str, request: MoveRequest) -> None:
        self._model.to(request.device)
        self._layout_due, self.layout = True, None   # what is faster on one device says nothing of another
