"""Undo and redo of edits, Qt-free. It watches the state instead of being told about each edit: every
`latent_changed` that leaves the state different (a new point, a condition, a slider weight, a vector
added or removed) becomes one step, so any panel's edits are undoable without knowing about history.

A slider drag sends dozens of weight changes; consecutive changes of the same vector's weight, each within
`coalesce_s` of the last, make one step. Opening another model clears the history.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from latent_atlas.editor.core.events import Event
from latent_atlas.editor.core.state import EditorState, StateSnapshot

DEFAULT_LIMIT = 200


@dataclass(frozen=True)
class Step:
    label: str                 # "move the point", "weight of smile", ... (shown as "Undo <label>")
    snapshot: StateSnapshot    # the state to go back (or forward) to


def _same_array(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and np.array_equal(a, b)


def _same_point(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return (_same_array(a.base, b.base) and a.cursor == b.cursor and a.data_index == b.data_index
            and a.source == b.source)


def describe_change(old: StateSnapshot, new: StateSnapshot) -> tuple[str, str | None]:
    """(label, coalescing key or None). Only a change to one vector's weight alone can coalesce."""
    old_names = [e.name for e in old.edits]
    new_names = [e.name for e in new.edits]
    if old_names != new_names:
        added = [n for n in new_names if n not in old_names]
        removed = [n for n in old_names if n not in new_names]
        if added and not removed:
            return f"add vector {added[0]}" if len(added) == 1 else f"add {len(added)} vectors", None
        if removed and not added:
            return f"remove vector {removed[0]}" if len(removed) == 1 else f"remove {len(removed)} vectors", None
        return "change vectors", None
    changed_vectors = [a.name for a, b in zip(old.edits, new.edits)
                       if not _same_array(a.vector, b.vector) or a.description != b.description]
    changed_weights = [a.name for a, b in zip(old.edits, new.edits) if a.weight != b.weight]
    point_same = _same_point(old.current, new.current)
    condition_same = _same_array(old.condition, new.condition)
    if changed_vectors:
        return f"change vector {changed_vectors[0]}", None
    if point_same and condition_same and len(changed_weights) == 1:
        return f"weight of {changed_weights[0]}", changed_weights[0]
    if not point_same:
        return "move the point", None
    if not condition_same:
        return "change the condition", None
    return "change weights", None


def same_snapshot(a: StateSnapshot, b: StateSnapshot) -> bool:
    return (_same_point(a.current, b.current) and _same_array(a.condition, b.condition)
            and len(a.edits) == len(b.edits)
            and all(x.name == y.name and x.weight == y.weight and x.description == y.description
                    and _same_array(x.vector, y.vector) for x, y in zip(a.edits, b.edits)))


class History:
    def __init__(self, state: EditorState, limit: int = DEFAULT_LIMIT, coalesce_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self._state = state
        self._limit = limit
        self._coalesce_s = coalesce_s
        self._clock = clock
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._last: StateSnapshot = state.snapshot()
        self._open_key: str | None = None     # the slider whose drag is still being coalesced
        self._open_time = 0.0
        self._restoring = False
        self.changed = Event()                 # (History): the undo/redo stacks changed
        state.events.model_changed.connect(self._on_model_changed)
        state.events.latent_changed.connect(self._on_latent_changed)

    # -- what the menu shows ------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_label(self) -> str:
        return self._undo[-1].label if self._undo else ""

    @property
    def redo_label(self) -> str:
        return self._redo[-1].label if self._redo else ""

    def __len__(self) -> int:
        return len(self._undo)

    # -- actions ------------------------------------------------------------------------------------------
    def undo(self) -> bool:
        if not self._undo:
            return False
        step = self._undo.pop()
        self._redo.append(Step(step.label, self._last))
        self._restore(step.snapshot)
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        step = self._redo.pop()
        self._undo.append(Step(step.label, self._last))
        self._restore(step.snapshot)
        return True

    def seal(self) -> None:
        """Ends the current slider drag: the next weight change starts a new step."""
        self._open_key = None

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._last = self._state.snapshot()
        self._open_key = None
        self.changed.emit(self)

    # -- watching the state -----------------------------------------------------------------------------
    def _restore(self, snapshot: StateSnapshot) -> None:
        self._restoring = True
        try:
            self._state.restore(snapshot)
        finally:
            self._restoring = False
        self._last = self._state.snapshot()
        self._open_key = None
        self.changed.emit(self)

    def _on_model_changed(self, _loaded) -> None:
        self.clear()

    def _on_latent_changed(self, state: EditorState) -> None:
        if self._restoring:
            return
        new = state.snapshot()
        old = self._last
        if same_snapshot(old, new):
            return
        self._last = new
        if old.current is None:
            return     # the first image of a model: there is nothing to go back to
        label, key = describe_change(old, new)
        now = self._clock()
        if key is not None and key == self._open_key and now - self._open_time <= self._coalesce_s:
            self._open_time = now      # the same drag: the step already holds the state before it
            return
        self._open_key, self._open_time = key, now
        self._undo.append(Step(label, old))
        del self._undo[:-self._limit]
        self._redo.clear()
        self.changed.emit(self)
