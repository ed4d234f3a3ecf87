"""The Attributes tab's "Find directions" section: PCA of data or prior latents, SeFa, mean difference and
classifier normal, fitted on a worker (only the newest request's answer is shown); a found direction is
added as an ordinary vector through the panel (state.add_edit)."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from latent_atlas.editor.core import find_directions as fd
from latent_atlas.editor.widgets.plain_text import PlainLabel


class DirectionsSection(QGroupBox):
    found = Signal(list)                       # the newest request's directions

    def __init__(self, panel, state, controller, parent=None):
        super().__init__("Find directions", parent)
        self._panel, self._state, self._controller = panel, state, controller
        self._request = 0
        self.directions = []
        self.sefa_reason = ""
        self.method = QComboBox()
        self.method.addItems(fd.METHODS)
        self.label = QComboBox()
        self.find_button = QPushButton("Find")
        self.results = QListWidget()
        self.results.setMaximumHeight(90)
        self.name = QLineEdit()
        self.name.setPlaceholderText("name of the vector")
        self.add_button = QPushButton("Add as vector")
        self.note = PlainLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #aaaaaa; font-size: 9pt;")
        self.body = QWidget()
        grid = QGridLayout(self.body)
        grid.setContentsMargins(0, 0, 0, 0)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 0, 4, 0)
        outer.addWidget(self.body)
        grid.addWidget(self.method, 0, 0)
        grid.addWidget(self.label, 0, 1)
        grid.addWidget(self.find_button, 0, 2)
        grid.addWidget(self.results, 1, 0, 1, 3)
        grid.addWidget(self.name, 2, 0, 1, 2)
        grid.addWidget(self.add_button, 2, 2)
        grid.addWidget(self.note, 3, 0, 1, 3)
        self.method.currentIndexChanged.connect(self._sync)
        self.find_button.clicked.connect(self.find)
        self.results.currentRowChanged.connect(self._picked)
        self.add_button.clicked.connect(self.add_selected)
        state.events.model_changed.connect(lambda _loaded: self.model_changed())
        self.model_changed()

    def model_changed(self) -> None:
        loaded = self._state.loaded
        self.label.clear()
        if loaded is not None and loaded.labels is not None:
            self.label.addItems(list(loaded.label_names))
        sefa = fd.METHODS.index("SeFa")
        reason = fd.sefa_reason(loaded) if loaded is not None else "no model"
        self.method.model().item(sefa).setEnabled(not reason)
        self.method.setItemData(sefa, reason or "eigenvectors of the first layer's weight", 3)  # tooltip
        self.sefa_reason = reason
        if reason and self.method.currentIndex() == sefa:
            self.method.setCurrentIndex(0)
        self.results.clear()
        self.directions = []
        self._sync()

    def _sync(self) -> None:
        supervised = self.method.currentText() in fd.SUPERVISED
        self.label.setEnabled(supervised and self.label.count() > 0)
        self.add_button.setEnabled(self.results.currentRow() >= 0)
        if self.sefa_reason and not self.results.count():
            self.note.setText(f"SeFa is off: {self.sefa_reason}")

    def find(self) -> None:
        loaded = self._state.loaded
        if loaded is None:
            return
        self._request += 1
        request, method = self._request, self.method.currentText()
        label = self.label.currentIndex() if method in fd.SUPERVISED else None
        self.note.setText(f"finding {method}…")
        self._controller.start_job("find directions", lambda progress, stop: fd.find(loaded, method, label),
                                   lambda result, r=request: self._done(r, result),
                                   lambda message, r=request: self._failed(r, message))

    def _done(self, request: int, result) -> None:
        if request != self._request:             # a newer request is running: keep only the newest
            return
        self.directions = list(result)
        self.results.clear()
        for d in self.directions:
            self.results.addItem(fd.describe(d))
        self.note.setText(f"{len(self.directions)} found; pick one, name it, add it as a vector")
        if self.directions:
            self.results.setCurrentRow(0)
        self.found.emit(self.directions)

    def _failed(self, request: int, message: str) -> None:
        if request == self._request:
            self.note.setText(message)

    def _picked(self, row: int) -> None:
        if 0 <= row < len(self.directions):
            self.name.setText(self.directions[row].name)
        self._sync()

    def add_selected(self) -> str | None:
        row = self.results.currentRow()
        if not 0 <= row < len(self.directions):
            return None
        d = self.directions[row]
        name = self.name.text().strip() or d.name
        return self._panel.add_vector(name, d.vector, fd.describe(d))
