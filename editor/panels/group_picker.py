"""Two groups of data points, picked with a lasso on the map, that make an attribute vector
`mean(z | A) - mean(z | B)` (posterior means). Part of the Attributes panel.

Arm the lasso, draw round some points, click "A ← lasso"; draw round others, click "B ← lasso" (or
"B ← rest" for every point not in A); "Add A − B" hands the vector to the panel. The groups are ringed
on the map and follow a change of projection. The groups are the state's (`state.groups`, kept per model).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QStyle, QWidget

from latent_atlas.editor.core import attributes as attrs
from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.map.map_selection import MapSelection
from latent_atlas.editor.widgets.plain_text import PlainLabel, tooltip
from latent_atlas.editor.widgets.status_line import StatusLine

NO_GROUPS = "no groups yet: Lasso on map, draw round some points, then A ← lasso"


def describe_groups(groups: dict[str, np.ndarray]) -> str:
    """'A: 1,312 points · B: none', or how to make the first group."""
    if not any(len(idx) for idx in groups.values()):
        return NO_GROUPS
    return " · ".join(f"{g}: {len(idx):,} points" if len(idx) else f"{g}: none" for g, idx in groups.items())


class GroupPicker(QWidget):
    vector_made = Signal(str, object, str)     # name, (D,) float32 vector, description
    failed = Signal(str, str)                  # title, message

    def __init__(self, state: EditorState, latent_map=None, parent=None):
        super().__init__(parent)
        self._state = state
        self.selection = MapSelection(latent_map, self) if latent_map is not None else None
        self.lasso_button = QPushButton("Lasso on map")
        self.lasso_button.setCheckable(True)
        self.lasso_button.setToolTip("while on, a left drag on the map draws round the points of a group "
                                     "(instead of an interpolation path)")
        self.lasso_button.toggled.connect(self._on_lasso_toggled)
        self.group_buttons = {g: QPushButton(f"{g} ← lasso") for g in "AB"}
        for g, button in self.group_buttons.items():
            button.setToolTip(tooltip(f"group {g} := the data points inside the last lasso"))
            button.clicked.connect(lambda _=False, g=g: self.group_from_selection(g))
        self.rest_button = QPushButton("B ← rest")
        self.rest_button.setToolTip("group B := every data point not in group A")
        self.rest_button.clicked.connect(self.group_b_from_rest)
        self.vector_button = QPushButton("Add A − B")
        self.vector_button.clicked.connect(self.make_vector)
        # two rows, the counts beside the second: "A ← lasso (1312)" on a button widened one row of all five
        # past the tab at 1280x800, and at 1100x700 the five alone were 491 px in a 446 px page: the whole
        # Attributes page scrolled sideways with its right edge cut (Xvfb walk)
        self.counts = StatusLine(NO_GROUPS)
        self.counts.setStyleSheet("color: #999999; font-size: 9pt;")
        spacing = self.style().pixelMetric(QStyle.PixelMetric.PM_LayoutHorizontalSpacing)
        first, second = QHBoxLayout(), QHBoxLayout()
        for row, widgets in ((first, (self.lasso_button, self.group_buttons["A"], self.group_buttons["B"])),
                             (second, (self.rest_button, self.vector_button))):
            row.setSpacing(spacing)
            for w in widgets:
                row.addWidget(w)
        first.addStretch(1)
        second.addWidget(self.counts, 1)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(spacing)
        grid.setVerticalSpacing(2)
        grid.addWidget(PlainLabel("Groups"), 0, 0)
        grid.addLayout(first, 0, 1)
        grid.addLayout(second, 1, 1)
        grid.setColumnStretch(1, 1)
        for b in (self.lasso_button, *self.group_buttons.values()):
            b.setEnabled(self.selection is not None)
        state.events.model_changed.connect(self._on_state_model_changed)
        state.events.projection_changed.connect(self._on_projection_changed)
        state.events.groups_changed.connect(self._on_state_groups_changed)

    @property
    def groups(self) -> dict[str, np.ndarray]:
        return self._state.groups

    def _on_state_model_changed(self, _loaded) -> None:
        if self.selection is not None:
            self.selection.clear()          # a lasso drawn on another model's map means nothing here
        self._on_state_groups_changed(self.groups)   # this model's own groups, or none

    def _on_lasso_toggled(self, on: bool) -> None:
        if self.selection is not None:
            self.selection.arm(on)

    def group_from_selection(self, group: str) -> int:
        """Group "A" or "B" := the data points inside the last lasso; returns how many."""
        loaded = self._state.loaded
        embedding = None if loaded is None else loaded.embedding
        return self.set_group(group, self.selection.indices(embedding) if self.selection else [])

    def group_b_from_rest(self) -> int:
        loaded = self._state.loaded
        if loaded is None:
            return 0
        return self.set_group("B", np.setdiff1d(np.arange(len(loaded.latents)), self.groups["A"]))

    def set_group(self, group: str, indices) -> int:
        return self._state.set_group(group, indices)

    def _on_state_groups_changed(self, groups) -> None:
        self.counts.setText(describe_groups(groups))
        for group in groups:
            self._ring(group)

    def _ring(self, group: str) -> None:
        loaded = self._state.loaded
        if self.selection is None:
            return
        idx = self.groups[group]
        embedding = None if loaded is None else loaded.embedding
        self.selection.show_group(group, None if embedding is None or not len(idx) else embedding[idx])

    def _on_projection_changed(self, _embedding) -> None:
        if self.selection is not None:
            self.selection.clear()          # a lasso drawn on another projection means nothing here
        for group in self.groups:
            self._ring(group)

    def make_vector(self) -> np.ndarray | None:
        loaded = self._state.loaded
        try:
            if loaded is None:
                raise ValueError("no model is open")
            vector = attrs.vector_from_groups(loaded.latents, self.groups["A"], self.groups["B"])
        except ValueError as e:
            self.failed.emit("Cannot make a vector from the groups",
                             f"{e}. Click “Lasso on map”, draw round some points and click “A ← lasso”, "
                             "then round others and click “B ← lasso” (or “B ← rest”).")
            return None
        na, nb = len(self.groups["A"]), len(self.groups["B"])
        self.vector_made.emit("A − B", vector, f"mean latent of {na} lassoed points minus that of {nb} others")
        return vector
