"""A tiny Qt-free signal: the editor state notifies its views without importing Qt.
Callbacks run synchronously on the thread that emits, which is always the GUI thread for the state."""
from __future__ import annotations

from collections.abc import Callable


class Event:
    def __init__(self) -> None:
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args) -> None:
        for callback in list(self._callbacks):
            callback(*args)


class StateEvents:
    """Every event the editor state emits."""

    def __init__(self) -> None:
        self.model_changed = Event()      # (LoadedModel)
        self.latent_changed = Event()     # (EditorState) current latent, condition or edits changed
        self.decoded = Event()            # (DecodeResult) purpose "current"
        self.projection_changed = Event() # (embedding (N, 2))
        self.groups_changed = Event()     # ({"A": indices, "B": indices}) lasso groups of the map data
        self.status = Event()             # (str)
