"""The Training panel's settings form: widgets <-> a TrainingForm. Picking a dataset or a family fills in
the defaults that suit it (editor/core/training_setup.py); the file dialogs are attributes, so tests and
scripts can answer them."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from latent_atlas.editor.core.training_setup import (
    DATASET_DEFAULTS,
    FAMILY_NAMES,
    FOLDER,
    TrainingForm,
    default_output,
    defaults_for,
)
from latent_atlas.models.data import DATASET_NAMES
from latent_atlas.models.device import available_devices


def _ask_folder(parent) -> str:
    return QFileDialog.getExistingDirectory(parent, "Train on the images in folder")


def _ask_attributes(parent) -> str:
    return QFileDialog.getOpenFileName(parent, "Attribute table", "", "Tables (*.csv *.tsv *.txt);;All files (*)")[0]


def _ask_output(parent, start: str) -> str:
    return QFileDialog.getSaveFileName(parent, "Save the trained model as", start,
                                       "Latent Atlas checkpoints (*.safetensors)")[0]


class TrainingFormWidget(QWidget):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ask_folder, self.ask_attributes, self.ask_output = _ask_folder, _ask_attributes, _ask_output
        self._family_touched = False
        self._filling = False
        self._hidden = TrainingForm()          # values the form has no widget for (seed, limit, resume_from)
        self._replace_confirmed = ""           # an existing file the Save as dialog asked to replace
        self._build()
        self.set_form(TrainingForm(family="vae", dataset="digits", **defaults_for("digits", "vae")))

    def _build(self) -> None:
        self.family = QComboBox()
        for key, name in FAMILY_NAMES.items():
            self.family.addItem(name, key)
        self.family.activated.connect(self._on_family_picked)
        self.dataset = QComboBox()
        for name in DATASET_NAMES:
            self.dataset.addItem(name, name)
        self.dataset.addItem("Folder…", FOLDER)
        self.dataset.activated.connect(self._on_dataset_picked)
        self.attributes = QLineEdit()
        self.attributes.setPlaceholderText("optional attribute table (CSV)")
        attributes_button = QPushButton("…")
        attributes_button.setMaximumWidth(28)
        attributes_button.clicked.connect(self._pick_attributes)
        self.latent = self._spin(1, 1024)
        self.beta = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1000.0, singleStep=0.5)
        self.consistency = QDoubleSpinBox(decimals=1, minimum=0.0, maximum=1000.0, singleStep=1.0)
        self.consistency.setToolTip("CVAE: how strongly prior samples must be read back as their condition by a "
                                    "classifier trained alongside on the real images (0: off; the bundled "
                                    "Fashion-MNIST CVAE uses 3; about twice the time per epoch)")
        self.lr = QDoubleSpinBox(decimals=5, minimum=0.00001, maximum=1.0, singleStep=0.0001)
        self.batch = self._spin(1, 65536)
        self.epochs = self._spin(1, 100_000)
        self.mirror_shift = QCheckBox("mirror and shift images")
        self.mirror_shift.setToolTip("Augment each batch: half of it mirrored left-right, every image shifted by "
                                     "up to 1/16 of its side. For small sets whose pictures mean the same "
                                     "mirrored (emoji, faces, clothes), not for digits or text")
        self.condition = QComboBox()
        self.condition.addItem("class labels", "labels")
        self.condition.addItem("attributes", "attributes")
        self.device = QComboBox()
        for name in available_devices():
            self.device.addItem(name, name)
        self.output = QLineEdit()
        output_button = QPushButton("…")
        output_button.setMaximumWidth(28)
        output_button.clicked.connect(self._pick_output)
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setVerticalSpacing(3)
        layout.addRow("Model", self.family)
        layout.addRow("Dataset", self.dataset)
        layout.addRow("Attributes", _row(self.attributes, attributes_button))
        layout.addRow("Latent size", self.latent)
        layout.addRow("Beta (KL weight)", self.beta)
        layout.addRow("Learning rate", self.lr)
        layout.addRow("Batch size", self.batch)
        layout.addRow("Epochs", self.epochs)
        layout.addRow("Augment", self.mirror_shift)
        layout.addRow("CVAE condition", self.condition)
        layout.addRow("Condition consistency", self.consistency)
        layout.addRow("Device", self.device)
        layout.addRow("Save as", _row(self.output, output_button))

    @staticmethod
    def _spin(lo: int, hi: int) -> QSpinBox:
        box = QSpinBox(minimum=lo, maximum=hi)
        box.setGroupSeparatorShown(True)
        return box

    # -- values ---------------------------------------------------------------------------------------
    def form(self) -> TrainingForm:
        out = self.output.text().strip()
        return replace(self._hidden, family=self.family.currentData(), dataset=self._dataset_spec(),
                       attributes_file=self.attributes.text().strip() or None, latent_dim=self.latent.value(),
                       beta=self._exact(self.beta, self._hidden.beta),
                       consistency=self._exact(self.consistency, self._hidden.consistency),
                       lr=self._exact(self.lr, self._hidden.lr), batch_size=self.batch.value(),
                       epochs=self.epochs.value(), condition=self.condition.currentData(),
                       mirror_shift=self.mirror_shift.isChecked(),
                       device=self.device.currentData(), out=out,
                       overwrite=bool(out) and out == self._replace_confirmed)

    @staticmethod
    def _exact(box: QDoubleSpinBox, given: float) -> float:
        """The value given to set_form while the box still shows it: a box rounds to its decimals, and a
        resumed checkpoint's beta 0.125 must not come back as a request for 0.13 (nor an lr of 2e-6, below
        the box's minimum, as 1e-5)."""
        rounded = box.valueFromText(box.textFromValue(given))          # as Qt rounds it, not Python's round()
        shown = min(max(rounded, box.minimum()), box.maximum())
        return given if abs(shown - box.value()) < 1e-12 else box.value()

    def set_form(self, form: TrainingForm) -> None:
        """Shows `form`; what has no widget (seed, limit, resume_from, event interval) is kept as given."""
        self._filling = True
        try:
            self._hidden = form
            self.family.setCurrentIndex(max(0, self.family.findData(form.family)))
            self._show_dataset(form.dataset)
            self.attributes.setText(form.attributes_file or "")
            self.latent.setValue(form.latent_dim)
            self.beta.setValue(form.beta)
            self.consistency.setValue(form.consistency)
            self.lr.setValue(form.lr)
            self.batch.setValue(form.batch_size)
            self.epochs.setValue(form.epochs)
            self.mirror_shift.setChecked(form.mirror_shift)
            self.condition.setCurrentIndex(max(0, self.condition.findData(form.condition)))
            index = self.device.findData(form.device.split(":")[0])
            self.device.setCurrentIndex(index if index >= 0 else self.device.count() - 1)
            self.output.setText(form.out)
            self._replace_confirmed = form.out if form.overwrite else ""
        finally:
            self._filling = False
        self._update_enabled()
        self.changed.emit()

    def _dataset_spec(self) -> str:
        data = self.dataset.currentData()
        return self.dataset.currentText() if data == "path" else data

    def _show_dataset(self, spec: str) -> None:
        index = self.dataset.findData(spec)
        if index < 0:                                 # a folder: shown as its own entry above "Folder…"
            path_index = self.dataset.findData("path")
            if path_index >= 0:
                self.dataset.removeItem(path_index)
            self.dataset.insertItem(self.dataset.count() - 1, spec, "path")
            index = self.dataset.count() - 2
        self.dataset.setCurrentIndex(index)

    # -- reactions ------------------------------------------------------------------------------------
    def _on_family_picked(self, _index: int) -> None:
        self._family_touched = True
        self._apply_defaults()

    def _on_dataset_picked(self, _index: int) -> None:
        if self.dataset.currentData() == FOLDER:
            folder = self.ask_folder(self)
            if not folder:
                self._show_dataset(self._hidden.dataset)
                return
            self._show_dataset(folder)
        spec = self._dataset_spec()
        if not self._family_touched:
            family = DATASET_DEFAULTS.get(spec, DATASET_DEFAULTS[FOLDER]).family
            self.family.setCurrentIndex(self.family.findData(family))
        self._apply_defaults()

    def _apply_defaults(self) -> None:
        form = self.form()
        key = form.dataset if form.dataset in DATASET_NAMES else FOLDER
        self.set_form(replace(form, **defaults_for(key, form.family), resume_from=None))

    def _update_enabled(self) -> None:
        family = self.family.currentData()
        self.beta.setEnabled(family not in ("gan", "ae"))
        self.condition.setEnabled(family == "cvae")
        self.consistency.setEnabled(family == "cvae")
        self.attributes.setEnabled(self.dataset.currentData() == "path")
        self.output.setPlaceholderText(str(default_output(self._dataset_spec(), family)))

    def _pick_attributes(self) -> None:
        path = self.ask_attributes(self)
        if path:
            self.attributes.setText(path)

    def _pick_output(self) -> None:
        chosen = self.ask_output(self, self.output.text() or self.output.placeholderText())
        if chosen:
            path = chosen if chosen.endswith(".safetensors") else str(Path(chosen)) + ".safetensors"
            self.output.setText(path)
            # the dialog asks before it returns an existing file (Qt's default); a name typed in is not asked,
            # nor one the suffix was added to here
            self._replace_confirmed = path if path == chosen and Path(path).exists() else ""


def _row(*widgets) -> QWidget:
    w = QWidget()
    layout = QHBoxLayout(w)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
    return w
