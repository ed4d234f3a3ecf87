"""The editor's state, Qt-free: which model is open, where the cursor is, which latent is current.

The current latent is `base + sum(weight * vector)`: the base comes from the map (a click, a data
point, a sample), the edits from attribute sliders. Views subscribe to `state.events`; only this class
emits them, and panels change the state through its methods (add_edit, set_group, set_projection, ...).

What the user makes on a model (vectors, lasso groups, the strip's path) belongs to that model: it is put
away when another model opens and comes back when that model returns, never applied to another one.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from latent_atlas.editor.core.events import StateEvents
from latent_atlas.editor.core.waypoints import Waypoints

if TYPE_CHECKING:            # torch and the model loader load with the first model, not with the window
    import torch

    from latent_atlas.editor.core.loaded_model import LoadedModel
    from latent_atlas.models.latent.projection import Projection

GROUPS = ("A", "B")


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


@dataclass
class ModelWork:
    """What was made on one model, put away while another is open."""
    edits: list[AttributeEdit]
    groups: dict[str, np.ndarray]      # lasso groups: indices into the map data of `data_key`
    data_key: tuple                    # which map data the indices point into (the split can change)
    waypoints: Waypoints


def _empty_groups() -> dict[str, np.ndarray]:
    return {g: np.zeros(0, np.int64) for g in GROUPS}


def model_key(loaded: LoadedModel) -> str:
    """Whose work is whose: the weights' sha256 (a checkpoint retrained or rewritten under the same name is
    another model). The controller computes it on the loading thread."""
    return loaded.sha256


def data_key(loaded: LoadedModel) -> tuple:
    return (loaded.source_note, len(loaded.latents))


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

    groups: dict[str, np.ndarray] = field(default_factory=_empty_groups)
    waypoints: Waypoints = field(default_factory=Waypoints)
    _put_away: dict[str, ModelWork] = field(default_factory=dict, repr=False)

    def set_model(self, loaded: LoadedModel, stored_edits: list[AttributeEdit] = ()) -> None:
        """Opens `loaded`: the work on the model open until now is put away, this model's own comes back
        (the first time: the vectors stored in its checkpoint, `stored_edits`)."""
        if self.loaded is not None:
            self._put_away[model_key(self.loaded)] = ModelWork(self.edits, self.groups, data_key(self.loaded),
                                                               self.waypoints)
        work = self._put_away.pop(model_key(loaded), None)
        self.loaded = loaded
        if work is None:
            self.edits, self.groups, self.waypoints = [_copy_edit(e) for e in stored_edits], _empty_groups(), \
                Waypoints()
        else:
            self.edits, self.waypoints = work.edits, work.waypoints
            self.groups = work.groups if work.data_key == data_key(loaded) else _empty_groups()
        self.condition = None
        if loaded.info.cond_dim:
            self.condition = np.zeros(loaded.info.cond_dim, np.float32)
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

    # -- vectors --------------------------------------------------------------------------------------
    def add_edits(self, edits: list[AttributeEdit]) -> list[str]:
        """Appends private copies of the edits, each renamed "name (2)" ... if its name is taken; returns
        the names they got."""
        names = []
        for edit in edits:
            edit = _copy_edit(edit)
            edit.name = unique_name(edit.name, [e.name for e in self.edits])
            self.edits.append(edit)
            names.append(edit.name)
        self.events.latent_changed.emit(self)
        return names

    def add_edit(self, name: str, vector: np.ndarray, description: str = "") -> str:
        return self.add_edits([AttributeEdit(name, np.asarray(vector, np.float32), 0.0, description)])[0]

    def remove_edit(self, name: str) -> None:
        self.edits = [e for e in self.edits if e.name != name]
        self.events.latent_changed.emit(self)

    def replace_edit_vector(self, name: str, vector: np.ndarray, description: str) -> None:
        for edit in self.edits:
            if edit.name == name:
                edit.vector, edit.description = np.asarray(vector, np.float32).copy(), description
        self.events.latent_changed.emit(self)

    # -- groups ---------------------------------------------------------------------------------------
    def set_group(self, group: str, indices) -> int:
        """Group "A" or "B" := these indices into the map data; returns how many."""
        self.groups[group] = np.asarray(indices, np.int64).reshape(-1).copy()
        self.events.groups_changed.emit(self.groups)
        return len(self.groups[group])

    # -- projection and results -------------------------------------------------------------------------
    def set_projection(self, projection: Projection) -> None:
        """A new map of the same model: the current point moves to its place on the new map (a data point to
        its own, any other point to the projection of its latent before edits); the latent stays."""
        loaded = self.loaded
        loaded.projection, loaded.embedding = projection, projection.embedding
        point = self.current
        if point is not None and point.cursor is not None:
            if point.data_index is not None:
                cursor = loaded.embedding[point.data_index]
            else:
                cursor = projection.transform(point.base[None].astype(np.float32))[0]
            point.cursor = (float(cursor[0]), float(cursor[1]))
        self.events.projection_changed.emit(loaded.embedding)

    def show_decoded(self, result) -> None:
        """The newest image of the current latent (a DecodeResult) for the views."""
        self.events.decoded.emit(result)

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


def unique_name(name: str, taken) -> str:
    """`name`, or "name (2)", "name (3)", ... : the first not in `taken`."""
    taken = set(taken)
    if name not in taken:
        return name
    k = 2
    while f"{name} ({k})" in taken:
        k += 1
    return f"{name} ({k})"
