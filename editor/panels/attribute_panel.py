"""The Attributes panel: attribute vectors (mean latent with an attribute minus mean latent without),
or A − B of two groups lassoed on the map (group_picker.py), each with a weight slider that edits the
current image live, a strip of the picked vector from alpha -2 to +2, a cosine table, orthogonalising,
and saving / loading vectors.

Vectors live in `state.edits` (one list per model, kept by the state); this panel changes them through the
state's methods and redraws itself from the state on every `latent_changed`, so undo, sessions and other
panels stay in step with it.
"""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from latent_atlas.editor.core import attributes as attrs
from latent_atlas.editor.core.messages import DecodeRequest
from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.panels.attribute_row import AttributeRow, more_rows_text, names_to_show
from latent_atlas.editor.panels.cosine_table import CosineTable
from latent_atlas.editor.panels.directions_section import DirectionsSection
from latent_atlas.editor.panels.group_picker import GroupPicker
from latent_atlas.editor.panels.picked_vector_box import PickedVectorBox
from latent_atlas.editor.widgets.image_row import ImageRow
from latent_atlas.editor.widgets.plain_text import PlainLabel, ask, inform
from latent_atlas.editor.widgets.save_places import remember, start_path
from latent_atlas.editor.widgets.status_line import StatusLine
from latent_atlas.models.errors import LatentAtlasError

STRIP_ALPHAS = np.linspace(-2.0, 2.0, 9)      # steps of 0.5: every frame is a weight the slider can show
VECTOR_FILTER = "Vector files (*.json *.npy);;All files (*)"


class FixedHeightsLayout(QVBoxLayout):
    """A column that tells its scroll area it has no height-for-width: a word-wrapped note inside made the
    scroll area size the page to its preferred height, and the vector list took the whole surplus."""

    def hasHeightForWidth(self) -> bool:
        return False


class AttributePanel(QWidget):
    error = Signal(str, str)          # title, message (the window shows it in a dialog)
    status = Signal(str)
    drag_finished = Signal()          # a weight slider was let go (ends one undo step)

    def __init__(self, state: EditorState, controller, latent_map=None, parent=None):
        super().__init__(parent)
        self._state, self._controller = state, controller
        self._map = latent_map
        self.rows: dict[str, AttributeRow] = {}
        self.selected: str | None = None
        self._candidate_list: list[attrs.AttributeCandidate] = []
        self._strip_stale = False
        self.errors: list[str] = []
        self._strip = controller.channel("attribute strip")
        self._cosine_key = None
        self._show_all = False       # the user asked for every row of a long list
        self._build()
        state.events.model_changed.connect(self._on_state_model_changed)
        state.events.latent_changed.connect(self._on_state_latent_changed)
        self._strip.result.connect(self._on_strip_decoded)
        self.setEnabled(False)

    def _build(self) -> None:
        self.candidates = QComboBox()
        self.candidates.setMinimumWidth(180)
        self.add_button = QPushButton("Add vector")
        self.add_button.clicked.connect(lambda: self.add_candidate(self.candidates.currentIndex()))
        self.picker = GroupPicker(self._state, self._map)
        self.picker.vector_made.connect(self.add_vector)
        self.picker.failed.connect(self._fail)
        top = QGridLayout()
        top.addWidget(PlainLabel("Attribute"), 0, 0)
        top.addWidget(self.candidates, 0, 1)
        top.addWidget(self.add_button, 0, 2)
        top.addWidget(self.picker, 1, 0, 1, 3)
        top.setColumnStretch(1, 1)
        self.rows_box = QWidget()
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(1)
        self.empty_label = PlainLabel("No vectors yet: pick an attribute and click “Add vector”.")
        self.empty_label.setStyleSheet("color: #888888;")
        self.rows_layout.addWidget(self.empty_label)
        self.more_rows = QPushButton("")              # a long list builds SHOWN_ROWS rows until asked for all
        self.more_rows.clicked.connect(self._show_all_rows)
        self.more_rows.hide()
        self.rows_layout.addWidget(self.more_rows)
        self.rows_layout.addStretch(1)
        self.rows_scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.rows_box)
        scroll.setMinimumHeight(84)
        self._scroll_target: str | None = None        # a row just added, to be scrolled into view
        scroll.verticalScrollBar().rangeChanged.connect(
            lambda *_: self._scroll_target is not None and self._scroll_to_target())
        scroll.verticalScrollBar().actionTriggered.connect(lambda _action: setattr(self, "_scroll_target", None))
        self.strip_label = StatusLine("")     # elided: a long vector name made the page wider than the tab
        self.strip_label.setStyleSheet("color: #aaaaaa; font-size: 9pt;")
        self.strip = ImageRow(height=84)
        self.strip.clicked.connect(lambda i: self.set_weight(self.selected, float(STRIP_ALPHAS[i])))
        self.cosines = CosineTable()
        self.orth_button = QPushButton("Orthogonalise picked")
        self.orth_button.setToolTip("remove from the picked vector its components along every other vector")
        self.orth_button.clicked.connect(self.orthogonalise_selected)
        load, save, into = QPushButton("Load…"), QPushButton("Save…"), QPushButton("Save into checkpoint")
        load.clicked.connect(self._load_dialog)
        save.clicked.connect(self._save_dialog)
        into.clicked.connect(lambda: self.save_into_checkpoint(confirm=True))
        self.save_into_button = into
        button_box = QWidget()
        button_box.setMaximumWidth(210)            # a column at the right, with or without the cosine table
        buttons = QVBoxLayout(button_box)
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.orth_button, load, save, into):
            buttons.addWidget(b)
        buttons.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.cosines, 1)
        bottom.addStretch(0)
        bottom.addWidget(button_box, 0, Qt.AlignmentFlag.AlignRight)
        self.directions = DirectionsSection(self, self._state, self._controller)
        self.picked_box = PickedVectorBox(self._state, self._controller)
        content = QWidget()
        layout = FixedHeightsLayout(content)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.directions)
        layout.addWidget(scroll, 2)
        layout.addWidget(self.picked_box)
        layout.addWidget(self.strip_label)
        layout.addWidget(self.strip)
        layout.addLayout(bottom, 1)
        page = QScrollArea()           # a small window scrolls the tab instead of squeezing its parts together
        page.setWidgetResizable(True)
        page.setFrameShape(QFrame.Shape.NoFrame)
        page.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(page)

    # -- adding and removing vectors -----------------------------------------------------------------
    def add_candidate(self, which: int | str) -> str | None:
        """Adds the vector of a listed attribute (its index in the list, or its name); returns its name."""
        loaded = self._state.loaded
        found = [c for i, c in enumerate(self._candidate_list) if which in (i, c.name)]
        if loaded is None or not found:
            return None
        c = found[0]
        mask = attrs.candidate_mask(c, loaded.labels, loaded.attributes)
        vector = attrs.vector_from_mask(loaded.latents, mask)
        return self.add_vector(c.name, vector, f"{c.label}: mean latent of {c.count} images with it minus "
                                                f"{len(mask) - c.count} without ({loaded.name})")

    def add_vector(self, name: str, vector: np.ndarray, description: str = "") -> str:
        self.selected = name = self._state.add_edit(name, vector, description)
        self._sync_rows()
        self._request_strip()       # the state's own update ran before the new vector was picked
        self._scroll_to_row(name)
        return name

    def _scroll_to_row(self, name: str) -> None:
        """The list scrolls to a new vector's row: it lands at the end of a list that shows three or four
        rows, and "Add as vector" seemed to do nothing (Xvfb walk)."""
        self._scroll_target = name
        QTimer.singleShot(0, self, self._scroll_to_target)   # the list may be laid out already

    def _scroll_to_target(self, *_) -> None:
        """Runs again whenever the list's length changes (the rows reach their height over several layout
        passes), until the user scrolls the list himself."""
        row = self.rows.get(self._scroll_target)
        if row is None:
            self._scroll_target = None
            return
        self.rows_scroll.ensureWidgetVisible(row, 0, 0)

    def remove_vector(self, name: str) -> None:
        self._state.remove_edit(name)

    def set_weight(self, name: str | None, weight: float) -> None:
        if name is not None:
            self._state.set_edit_weight(name, weight)

    def select_vector(self, name: str) -> None:
        self.selected = name
        self._sync_rows()
        self._request_strip()

    def orthogonalise_selected(self) -> None:
        edits = self._state.edits
        names = [e.name for e in edits]
        if self.selected not in names or len(edits) < 2:
            return
        i = names.index(self.selected)
        others = ", ".join(n for n in names if n != self.selected)
        self._state.replace_edit_vector(self.selected, attrs.orthogonalised([e.vector for e in edits], i),
                                        f"{edits[i].description} (orthogonalised against {others})")

    # -- files ----------------------------------------------------------------------------------------
    def save_vectors(self, path: str) -> bool:
        loaded = self._state.loaded
        try:
            attrs.save_vectors_file(path, self._state.edits, loaded.info.latent_dim, loaded.sha256)
        except (LatentAtlasError, OSError) as e:
            self._fail("Could not save the vectors", str(e))
            return False
        self.status.emit(f"saved {len(self._state.edits)} vectors to {path}")
        return True

    def load_vectors(self, path: str) -> list[str]:
        loaded = self._state.loaded
        try:
            found = attrs.load_vectors_file(path, loaded.info.latent_dim)
        except LatentAtlasError as e:
            self._fail("Could not load the vectors", str(e))
            return []
        if found.checkpoint_sha256 and found.checkpoint_sha256 != loaded.sha256:
            self.status.emit(f"{path} was made with another checkpoint: the vectors may mean something else here")
        names = self._state.add_edits(found.vectors)
        self.selected = names[-1]
        self._sync_rows()
        return names

    def save_into_checkpoint(self, confirm: bool = True) -> bool:
        loaded = self._state.loaded
        if loaded is None or not self._state.edits:
            return False
        if loaded.is_module:
            self._fail("A module, not a checkpoint", f"{loaded.name} was opened from Python code, so there is no "
                       "checkpoint file to hold the vectors: save them to a JSON or .npy file instead")
            return False
        if attrs.is_bundled(loaded.path):
            if confirm:
                inform(self, "Bundled model", f"{loaded.name} is a bundled model, which the editor never "
                       "rewrites. Save the vectors to a JSON or .npy file instead.")
                self._save_dialog()
                return False
            self._fail("Bundled model", f"{loaded.path} is a bundled model: save the vectors to a file instead")
            return False
        if confirm and not ask(self, "Save vectors into the checkpoint",
                               f"Rewrite {loaded.path} with {len(self._state.edits)} vectors? Vectors it holds now "
                               "are replaced; the weights stay as they are."):
            return False
        try:
            loaded.checkpoint.vectors = attrs.save_into_checkpoint(loaded.path, self._state.edits)
        except LatentAtlasError as e:
            self._fail("Could not save the vectors", str(e))
            return False
        self.status.emit(f"saved {len(self._state.edits)} vectors into {loaded.name}")
        return True

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load vectors", "", VECTOR_FILTER)
        if path:
            self.load_vectors(path)

    def _save_dialog(self) -> None:
        if self._state.edits:
            path, _ = QFileDialog.getSaveFileName(self, "Save vectors", start_path("vectors.json"), VECTOR_FILTER)
            if path:
                remember(path)
                self.save_vectors(path)

    def _fail(self, title: str, message: str) -> None:
        self.errors.append(message)
        self.error.emit(title, message)

    # -- session hook ---------------------------------------------------------------------------------
    def panel_state(self) -> dict:
        return {"picked": self.selected}

    def restore_panel_state(self, saved: dict) -> None:
        if isinstance(saved, dict) and isinstance(saved.get("picked"), str) and saved["picked"] in {e.name for e in self._state.edits}:
            self.select_vector(saved["picked"])

    # -- following the state ------------------------------------------------------------------------------
    def _on_state_model_changed(self, loaded) -> None:
        self._candidate_list = attrs.candidates_for(loaded)
        self.candidates.clear()
        for c in self._candidate_list:
            self.candidates.addItem(f"{c.label}  ({c.count})", c.name)
        if not self._candidate_list:
            self.candidates.addItem("(this model's data has no labels or attributes)")
        self.add_button.setEnabled(bool(self._candidate_list))
        self.picked_box.model_changed(loaded)
        self.save_into_button.setEnabled(not attrs.is_bundled(loaded.path) and not loaded.is_module)
        self.setEnabled(True)      # the state brought this model's own vectors (or its checkpoint's)
        self._show_all = False
        self._sync_rows()
        if self.selected is not None:
            self._scroll_to_row(self.selected)    # a returning model's picked vector is in view, as it was
        else:
            self._scroll_target = None

    def _on_state_latent_changed(self, state: EditorState) -> None:
        self._sync_rows()
        self._request_strip()

    def _sync_rows(self) -> None:
        edits = {e.name: e for e in self._state.edits}
        for name in [n for n in self.rows if n not in edits]:
            row = self.rows.pop(name)
            self.rows_layout.removeWidget(row)
            row.deleteLater()
        if self.selected not in edits:
            self.selected = next(reversed(edits), None)
        shown = names_to_show(list(edits), self.selected, self._show_all)
        for name in shown:
            edit = edits[name]
            row = self.rows.get(name)
            if row is None:
                row = self.rows[name] = AttributeRow(name, edit.description, edit.weight)
                row.weight_changed.connect(self.set_weight)
                row.remove_requested.connect(self.remove_vector)
                row.picked.connect(self.select_vector)
                row.drag_finished.connect(self.drag_finished)
                self.rows_layout.insertWidget(self.rows_layout.indexOf(self.more_rows), row)
            row.set_weight(edit.weight)
            row.set_description(edit.description)
        self.more_rows.setText(more_rows_text(len(self.rows), len(edits)))
        self.more_rows.setVisible(len(self.rows) < len(edits))
        for name, row in self.rows.items():
            row.pick.blockSignals(True)
            row.pick.setChecked(name == self.selected)
            row.pick.blockSignals(False)
        self.empty_label.setVisible(not edits)
        for widget in (self.strip, self.strip_label, self.cosines, self.picked_box):   # nothing before a vector
            widget.setVisible(bool(edits))
        self.picked_box.set_picked(self.selected, self._state.edits)
        self.orth_button.setEnabled(len(edits) >= 2)
        key = tuple((e.name, e.vector.tobytes()) for e in self._state.edits)
        if key != self._cosine_key:
            self._cosine_key = key
            self.cosines.set_vectors([e.name for e in self._state.edits], [e.vector for e in self._state.edits])

    def _show_all_rows(self) -> None:
        """Every row, in order (the picked row was built out of order while the list was cut)."""
        self._show_all = True
        for row in self.rows.values():
            self.rows_layout.removeWidget(row)
            row.deleteLater()
        self.rows.clear()
        self._sync_rows()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._strip_stale:
            self._request_strip()

    def _request_strip(self) -> None:
        self._strip_stale = not self.isVisible()
        if self._strip_stale:
            return      # a hidden tab decodes nothing; it catches up when shown
        state = self._state
        edit = next((e for e in state.edits if e.name == self.selected), None)
        if edit is None or state.current is None:
            self.strip.clear()
            self.strip_label.setText("")
            return
        self.strip_label.setText(f"{edit.name} from α = −2 to +2 (click a frame to use its α)")
        z = attrs.latents_with_weight(state.current.base, state.edits, edit.name, STRIP_ALPHAS)
        marked = np.flatnonzero(np.isclose(STRIP_ALPHAS, edit.weight))
        self._strip.submit(DecodeRequest(torch.from_numpy(z), state.condition_tensor()),
                           int(marked[0]) if len(marked) else None)

    def _on_strip_decoded(self, result, marked: int | None) -> None:
        self.strip.set_images(result.images, [f"{a:+.1f}" for a in STRIP_ALPHAS])
        self.strip.mark(marked)
