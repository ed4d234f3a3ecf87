"""The Condition panel of a conditional model (CVAE): which class (or which attributes) the decoder is
told to draw, a row showing the SAME latent drawn under every class (click a cell to use it), and new
images with the chosen condition from the prior, with the seed in view so a sample can be found again."""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latent_atlas.editor.core.messages import DecodeRequest
from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.widgets.image_row import ImageRow
from latent_atlas.editor.widgets.plain_text import PlainLabel

MAX_SEED = 2**31 - 1


def condition_rows(condition: np.ndarray, one_hot: bool) -> np.ndarray:
    """(K, K) conditions the row shows: each class (one-hot), or each attribute flipped from the current."""
    k = len(condition)
    if one_hot:
        return np.eye(k, dtype=np.float32)
    rows = np.repeat(condition[None].astype(np.float32), k, axis=0)
    rows[np.arange(k), np.arange(k)] = 1.0 - (rows[np.arange(k), np.arange(k)] > 0.5)
    return rows


class ConditionPanel(QWidget):
    def __init__(self, state: EditorState, controller, parent=None):
        super().__init__(parent)
        self._state, self._controller = state, controller
        self.one_hot = True
        self.names: list[str] = []
        self.checks: list[QCheckBox] = []
        self._row = controller.channel("condition row")
        self._row_stale = False
        self._row_conditions = np.zeros((0, 0), np.float32)
        self.hint = PlainLabel("The open model has no condition: this panel is for conditional VAEs (CVAE), whose "
                           "decoder sees [z, class]. Open one (the Model list has a Fashion-MNIST CVAE) to render "
                           "the same latent under every class.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #888888;")
        self.classes = QComboBox()
        self.classes.setMinimumWidth(160)
        self.classes.activated.connect(self.set_class)
        self.checks_box = QWidget()
        self.checks_layout = QGridLayout(self.checks_box)
        self.checks_layout.setContentsMargins(0, 0, 0, 0)
        self.row_label = PlainLabel("The same latent under every class (click one to use it)")
        self.row_label.setStyleSheet("color: #aaaaaa; font-size: 9pt;")
        self.row = ImageRow(height=120)
        self.row.clicked.connect(self.use_row_cell)
        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.seed.setToolTip("seed of the numpy generator that draws z ~ N(0, I); it steps on after each image")
        self.sample_button = QPushButton("New image with this condition")
        self.sample_button.clicked.connect(lambda: self.sample_new())
        self.pick_label = PlainLabel("Class")
        pick = QHBoxLayout()
        pick.addWidget(self.pick_label)
        pick.addWidget(self.classes, 1)
        pick.addWidget(self.checks_box, 3)
        sample = QHBoxLayout()
        sample.addWidget(self.sample_button)
        sample.addWidget(PlainLabel("seed"))
        sample.addWidget(self.seed)
        sample.addStretch(1)
        self.controls = QWidget()
        inner = QVBoxLayout(self.controls)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addLayout(pick)
        inner.addWidget(self.row_label)
        inner.addWidget(self.row)
        inner.addLayout(sample)
        inner.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addWidget(self.controls, 1)
        layout.addStretch(0)                       # keeps the hint at the top while the controls are hidden
        self.controls.setEnabled(False)
        self.controls.setVisible(False)            # no black, empty row for a model without a condition
        state.events.model_changed.connect(self._on_state_model_changed)
        state.events.latent_changed.connect(self._on_state_latent_changed)
        self._row.result.connect(self._on_row_decoded)

    # -- public slots ---------------------------------------------------------------------------------
    def set_class(self, index: int) -> None:
        if self._state.loaded is None or not 0 <= index < len(self.names):
            return
        c = np.zeros(len(self.names), np.float32)
        c[index] = 1.0
        self._state.set_condition(c)

    def set_attribute(self, index: int, on: bool) -> None:
        if self._state.condition is None:
            return
        c = self._state.condition.copy()
        c[index] = 1.0 if on else 0.0
        self._state.set_condition(c)

    def use_row_cell(self, index: int) -> None:
        if 0 <= index < len(self._row_conditions):
            self._state.set_condition(self._row_conditions[index].copy())

    def sample_new(self, seed: int | None = None) -> np.ndarray | None:
        """z ~ N(0, I) from numpy's generator with the seed shown; the seed then steps on by one."""
        loaded = self._state.loaded
        if loaded is None:
            return None
        seed = self.seed.value() if seed is None else int(seed)
        z = np.random.default_rng(seed).standard_normal(loaded.info.latent_dim).astype(np.float32)
        self.seed.setValue((seed + 1) % (MAX_SEED + 1))
        self._controller.set_latent(z, source="sample")
        return z

    # -- session hook ---------------------------------------------------------------------------------
    def panel_state(self) -> dict:
        return {"seed": self.seed.value()}

    def restore_panel_state(self, saved: dict) -> None:
        if isinstance(saved, dict) and isinstance(saved.get("seed"), int):
            self.seed.setValue(max(0, min(MAX_SEED, saved["seed"])))

    # -- following the state ------------------------------------------------------------------------------
    def _on_state_model_changed(self, loaded) -> None:
        cond_dim = loaded.info.cond_dim
        self.hint.setVisible(not cond_dim)
        self.controls.setEnabled(bool(cond_dim))
        self.controls.setVisible(bool(cond_dim))
        self.row.clear()
        self.classes.clear()
        for check in self.checks:
            check.deleteLater()
        self.checks = []
        if not cond_dim:
            self.names = []
            return
        self.one_hot = loaded.condition_one_hot
        self.names = list(loaded.condition_names)
        self.classes.addItems(self.names)
        self.pick_label.setText("Class" if self.one_hot else "Attributes")
        self.classes.setVisible(self.one_hot)
        self.checks_box.setVisible(not self.one_hot)
        self.row_label.setText("The same latent under every class (click one to use it)" if self.one_hot else
                               "The same latent with each attribute switched (click one to use it)")
        if not self.one_hot:
            per_row = 4 if max(map(len, self.names), default=0) <= 12 else 3    # long names get room to be read
            for i, name in enumerate(self.names):
                check = QCheckBox(name)
                check.setToolTip(name)
                check.toggled.connect(lambda on, i=i: self.set_attribute(i, on))
                self.checks_layout.addWidget(check, i // per_row, i % per_row)
                self.checks.append(check)

    def _on_state_latent_changed(self, state: EditorState) -> None:
        c = state.condition
        if c is None or state.loaded is None or not state.loaded.info.cond_dim:
            return
        self._show_condition(c)
        z = state.latent()
        self._row_stale = not self.isVisible()
        if z is None or self._row_stale:
            return      # a hidden tab decodes nothing; it catches up when shown
        rows = condition_rows(c, self.one_hot)                       # (k, C), one image each
        batch = torch.from_numpy(np.repeat(z[None], len(rows), axis=0))
        self._row.submit(DecodeRequest(batch, torch.from_numpy(rows)), rows)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._row_stale:
            self._on_state_latent_changed(self._state)

    def _show_condition(self, c: np.ndarray) -> None:
        if self.one_hot:
            is_one_hot = np.isin(c, (0.0, 1.0)).all() and c.sum() == 1
            self.classes.setCurrentIndex(int(np.argmax(c)) if is_one_hot else -1)
            return
        for check, value in zip(self.checks, c):
            check.blockSignals(True)
            check.setChecked(bool(value > 0.5))
            check.blockSignals(False)

    def _on_row_decoded(self, result, rows: np.ndarray) -> None:
        self._row_conditions = rows
        if self.one_hot:       # whole names: the row elides them to its cells, the whole name in the tooltip
            captions = list(self.names)
        else:
            captions = [("+" if r[i] > 0.5 else "−") + n for i, (n, r) in
                        enumerate(zip(self.names, self._row_conditions))]
        self.row.set_images(result.images, captions)
        current = self._state.condition
        same = [i for i, r in enumerate(self._row_conditions) if current is not None and np.array_equal(r, current)]
        self.row.mark(same[0] if same else None)
