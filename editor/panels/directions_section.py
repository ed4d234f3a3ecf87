"""The Attributes tab's "Find directions" section: PCA of data or prior latents, SeFa, mean difference and
classifier normal, fitted on a worker (only the newest request's answer is shown); a found direction is
added as an ordinary vector through the panel (state.add_edit)."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from latent_atlas.editor.core import find_directions as fd
from latent_atlas.editor.core.messages import ModelCopyRequest
from latent_atlas.editor.widgets.plain_text import PlainLabel, tooltip


class DirectionsSection(QWidget):
    found = Signal(list)                       # the newest request's directions

    def __init__(self, panel, state, controller, parent=None):
        super().__init__(parent)
        self.toggle = QToolButton()              # folded by default: the vectors' rows and strip come first
        self.toggle.setText("Find directions (PCA, SeFa, mean difference, classifier normal)")
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.toggled.connect(self.set_open)
        self._panel, self._state, self._controller = panel, state, controller
        self._copies = controller.channel("SeFa model copy")      # SeFa's job reads its own copy
        self._copies.result.connect(lambda model, job: self._jobs.submit(replace(job, model=model), job.label))
        self._jobs = controller.job_channel("find directions")     # only the newest fit's answer comes back
        self._jobs.result.connect(self._done)
        self._jobs.failed.connect(lambda message, _label: self.note.setText(message))
        self._label_of_found: int | None = None
        self.directions = []
        self.sefa_reason = ""
        self.method = QComboBox()
        self.method.addItems(fd.METHODS)
        self.label = QComboBox()
        self.find_button = QPushButton("Find")
        self.results = QListWidget()
        self.results.setMaximumHeight(76)      # four rows; the list scrolls
        self.name = QLineEdit()
        self.name.setPlaceholderText("name of the vector")
        self.add_button = QPushButton("Add as vector")
        self.note = PlainLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #aaaaaa; font-size: 9pt;")
        self.body = QFrame()
        self.body.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self.body)
        grid.setContentsMargins(4, 4, 4, 4)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.toggle)
        outer.addWidget(self.body)
        self.body.setVisible(False)
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

    def set_open(self, on: bool) -> None:
        self.toggle.blockSignals(True)
        self.toggle.setChecked(on)
        self.toggle.blockSignals(False)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)

    def model_changed(self) -> None:
        loaded = self._state.loaded
        self.label.clear()
        if loaded is not None and loaded.labels is not None:
            self.label.addItems(list(loaded.label_names))
        sefa = fd.METHODS.index("SeFa")
        reason = loaded.info.sefa_reason if loaded is not None else "no model"
        self.method.model().item(sefa).setEnabled(not reason)
        self.method.setItemData(sefa, tooltip(reason or "eigenvectors of the first layer's weight"),
                                Qt.ItemDataRole.ToolTipRole)
        self.sefa_reason = reason
        data = fd.METHODS.index("PCA of data latents")   # a GAN's map holds prior samples, not encoded data
        encodes = loaded is not None and loaded.info.can_encode
        self.method.model().item(data).setEnabled(encodes)
        self.method.setItemData(data, tooltip("the principal axes of the map's encoded data" if encodes else
                                              "this model encodes no data (its map holds prior samples): "
                                              "use PCA of prior latents"), Qt.ItemDataRole.ToolTipRole)
        if not encodes and self.method.currentIndex() == data:
            self.method.setCurrentIndex(fd.METHODS.index("PCA of prior latents"))
        if reason and self.method.currentIndex() == sefa:
            self.method.setCurrentIndex(0 if encodes else fd.METHODS.index("PCA of prior latents"))
        self.results.clear()
        self.directions = []
        self.name.clear()           # the name of a direction found on the model before ("PC1") stayed
        self._sync()

    def _sync(self) -> None:
        supervised = self.method.currentText() in fd.SUPERVISED
        self.label.setEnabled(supervised and self.label.count() > 0)
        self.add_button.setEnabled(self.results.currentRow() >= 0)
        if not self.results.count():
            self.note.setText(f"SeFa is off: {self.sefa_reason}" if self.sefa_reason else "")

    def find(self) -> None:
        loaded = self._state.loaded
        if loaded is None:
            return
        method = self.method.currentText()
        label = self.label.currentIndex() if method in fd.SUPERVISED else None
        job = fd.FindJob(loaded, method, label)
        self.note.setText(f"finding {method}…")
        self._copies.forget()            # a SeFa copy still on its way was for the request before this one
        if method == "SeFa":            # reads the module's weights: on a copy the decode worker makes
            self._jobs.forget()
            self._copies.submit(ModelCopyRequest(), job)
        else:
            self._jobs.submit(job, label)

    def _done(self, result, label: int | None) -> None:
        self.directions = list(result)
        self._label_of_found = label
        self.results.clear()
        for d in self.directions:
            self.results.addItem(fd.describe(d))
        self.note.setText(f"{len(self.directions)} found; pick one, name it, add it as a vector")
        if self.directions:
            self.results.setCurrentRow(0)
        self.found.emit(self.directions)

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
        vector, unit = fd.as_vector(self._state.loaded, d, self._label_of_found)
        return self._panel.add_vector(name, vector, f"{fd.describe(d)}; {unit}")
