"""The editor's state, Qt-free: which model is open, where the cursor is, which latent is current.

The current latent is `base + sum(weight * vector)`: the base comes from the map (a click, a data
point, a sample), the edits from attribute sliders. Views subscribe to `state.events`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from latent_atlas.editor.core.events import StateEvents

if TYPE_CHECKING:            # torch and the model loader load with the first model, not with the window
    import torch

    from latent_atlas.editor.core.loaded_model import LoadedModel


@dataclass
class AttributeEdit:
    name: str
    vector: np.ndarray      # (D,)
    weight: float = 0.0
    description: str = ""


@dataclass
class CurrentPoint:
    base: np.ndarray                      # (D,) latent before edits
    cursor: tuple[float, float] | None    # map coordinates it came from, if any
    data_index: int | None = None         # the dataset point it is, if it is one
    source: str = "map"                   # "map", "data", "sample", "image", "session"


@dataclass(frozen=True)
class StateSnapshot:
    """What undo and sessions put back: the point, the condition and the edits, as private copies."""
    current: CurrentPoint | None
    condition: np.ndarray | None
    edits: tuple[AttributeEdit, ...]


def _copy_point(point: CurrentPoint | None) -> CurrentPoint | None:
    return None if point is None else replace(point, base=np.array(point.base, np.float32))


def _copy_edit(edit: AttributeEdit) -> AttributeEdit:
    return replace(edit, vector=np.array(edit.vector, np.float32))


@dataclass
class EditorState:
    loaded: LoadedModel | None = None
    current: CurrentPoint | None = None
    condition: np.ndarray | None = None   # (cond_dim,) CVAE condition of the current image
    edits: list[AttributeEdit] = field(default_factory=list)
    events: StateEvents = field(default_factory=StateEvents)

    def set_model(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.edits = [e for e in self.edits if e.vector.shape[0] == loaded.latents.shape[1]]
        self.condition = None
        if loaded.model.cond_dim:
            self.condition = np.zeros(loaded.model.cond_dim, np.float32)
            self.condition[0] = 1.0
        self.current = None
        self.events.model_changed.emit(loaded)

    def set_point(self, point: CurrentPoint) -> None:
        if self.loaded is not None and point.data_index is not None and self.loaded.conditions is not None:
            self.condition = self.loaded.conditions[point.data_index].astype(np.float32)
        self.current = point
        self.events.latent_changed.emit(self)

    def set_condition(self, condition: np.ndarray) -> None:
        self.condition = np.asarray(condition, np.float32)
        self.events.latent_changed.emit(self)

    def set_edit_weight(self, name: str, weight: float) -> None:
        for edit in self.edits:
            if edit.name == name:
                edit.weight = float(weight)
        self.events.latent_changed.emit(self)

    def latent(self) -> np.ndarray | None:
        """The current latent with every attribute edit applied, (D,) float32."""
        if self.current is None:
            return None
        z = self.current.base.astype(np.float32).copy()
        for edit in self.edits:
            if edit.weight:
                z += np.float32(edit.weight) * edit.vector.astype(np.float32)
        return z

    def latent_tensor(self) -> torch.Tensor | None:
        import torch

        z = self.latent()
        return None if z is None else torch.from_numpy(z)

    def condition_tensor(self) -> torch.Tensor | None:
        import torch

        return None if self.condition is None else torch.from_numpy(self.condition.copy())

    def snapshot(self) -> StateSnapshot:
        return StateSnapshot(_copy_point(self.current),
                             None if self.condition is None else self.condition.copy(),
                             tuple(_copy_edit(e) for e in self.edits))

    def restore(self, snapshot: StateSnapshot) -> None:
        """Puts a snapshot back exactly (the condition too, even for a data point) and notifies views."""
        self.current = _copy_point(snapshot.current)
        self.condition = None if snapshot.condition is None else snapshot.condition.copy()
        self.edits = [_copy_edit(e) for e in snapshot.edits]
        self.events.latent_changed.emit(self)
