"""One consumer's line to the decode worker: it sends typed requests and gets back only its own answers,
the newest first and never an older one after it.

The rule for stale answers lives here, once: an answer is delivered when it is newer than the last one
delivered and was not forgotten (`forget`, e.g. when a panel clears what it showed or another model
opens). The worker keeps only the newest waiting request of each channel, so a drag that sends hundreds
of requests costs a few decodes; an answer already under way when a newer request was sent still shows,
so a long drag keeps updating instead of waiting for the pointer to stop.
"""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal


class DecodeChannel(QObject):
    result = Signal(object, object)   # the answer (a DecodeResult for a decode), the context sent with it
    failed = Signal(str)              # the newest request failed: the worker's message

    def __init__(self, key: str, submit, ids, parent=None):
        """`submit(key, request)`: the worker's; `ids`: an iterator of increasing ids."""
        super().__init__(parent)
        self.key = key
        self._submit, self._ids = submit, ids
        self._contexts: dict[int, object] = {}     # requests sent and not yet answered or dropped
        self._delivered = 0                         # id of the last answer delivered (or forgotten)

    def submit(self, request, context=None) -> int:
        """Sends `request` (a type of editor/core/messages.py) with a new id; `context` comes back with
        its answer (what the request was for, e.g. the latents of a strip). Returns the id."""
        request = replace(request, id=next(self._ids))
        self._contexts[request.id] = context
        self._submit(self.key, request)
        return request.id

    def forget(self) -> None:
        """Drops every answer still on its way: what was asked before now is no longer wanted."""
        self._delivered = max(self._delivered, max(self._contexts, default=0))
        self._contexts.clear()

    @property
    def waiting(self) -> bool:
        """True while a request sent is not answered yet."""
        return bool(self._contexts)

    # -- from the controller, on the GUI thread ------------------------------------------------------
    def deliver(self, request_id: int, answer) -> None:
        if request_id <= self._delivered or request_id not in self._contexts:
            return   # stale: a newer answer is already shown, or it was forgotten
        context = self._contexts.pop(request_id)
        self._drop_older(request_id)
        self.result.emit(answer, context)

    def fail(self, request_id: int, message: str) -> None:
        if request_id <= self._delivered or request_id not in self._contexts:
            return
        self._contexts.pop(request_id)
        self._drop_older(request_id)
        self.failed.emit(message)

    def _drop_older(self, request_id: int) -> None:
        self._delivered = request_id
        self._contexts = {i: c for i, c in self._contexts.items() if i > request_id}
