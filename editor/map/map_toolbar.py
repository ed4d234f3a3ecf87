"""Projection controls above the map: method, which PCA components, off-plane residual, colour by."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QSpinBox, QWidget

from latent_atlas.editor.widgets.plain_text import PlainLabel, tooltip
from latent_atlas.editor.widgets.status_line import StatusLine

METHODS = [("PCA", "pca"), ("t-SNE", "tsne"), ("UMAP", "umap"), ("Latent (2-D)", "identity")]
UMAP_INSTALL = "UMAP needs the optional package umap-learn: pip install 'latent-atlas[umap]'"


def method_name(method: str) -> str:
    """What the editor calls a projection method everywhere: "t-SNE", not "TSNE"."""
    return {key: text for text, key in METHODS}.get(method, method)


def umap_installed() -> bool:
    """Without importing it (umap-learn compiles its kernels on import: seconds)."""
    import importlib.util

    return importlib.util.find_spec("umap") is not None


class MapToolbar(QWidget):
    projection_requested = Signal(str, dict)   # method, options
    colour_requested = Signal(int)             # -1: by label, j >= 0: by attribute j

    def __init__(self, parent=None):
        super().__init__(parent)
        self.method = QComboBox()
        for text, key in METHODS:
            self.method.addItem(text, key)
        if not umap_installed():
            index = self.method.findData("umap")
            self.method.model().item(index).setEnabled(False)
            self.method.setItemText(index, "UMAP (not installed)")
            self.method.setItemData(index, UMAP_INSTALL, Qt.ItemDataRole.ToolTipRole)
        self.pc_x, self.pc_y = QSpinBox(), QSpinBox()
        for i, box in enumerate((self.pc_x, self.pc_y)):
            box.setRange(1, 2)
            box.setValue(i + 1)
            box.setPrefix("PC")
        self.residual = QCheckBox("keep off-plane residual")
        self.residual.setToolTip("PCA: a clicked point keeps the nearest data point's latent outside the "
                                 "2-D plane, so decodes stay on the data")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(PlainLabel("Projection"))
        layout.addWidget(self.method)
        self.pc_label = PlainLabel("axes")
        layout.addWidget(self.pc_label)
        layout.addWidget(self.pc_x)
        layout.addWidget(self.pc_y)
        layout.addWidget(self.residual)
        layout.addWidget(PlainLabel("Colour"))
        self.colour = QComboBox()
        self.colour.setToolTip("colour the points by their label or by one binary attribute")
        layout.addWidget(self.colour)
        self.hint = StatusLine("click: decode · drag: strip · middle: pan")   # elides: the map keeps its width
        self.hint.setToolTip("left click: decode that point · left drag: interpolation strip · middle drag: pan · "
                             "wheel: zoom · right drag: zoom one axis")
        self.hint.setStyleSheet("color: #888888; font-size: 9pt;")
        layout.addWidget(self.hint, 1)
        self.method.activated.connect(self._emit)
        self.pc_x.editingFinished.connect(self._emit)
        self.pc_y.editingFinished.connect(self._emit)
        self.residual.toggled.connect(self._emit)
        self.colour.activated.connect(lambda _: self.colour_requested.emit(self.colour.currentData()))

    def show_lasso_hint(self, armed: bool) -> None:
        """The hint names what a left drag does now: draw a lasso, or an interpolation strip."""
        self.hint.setText("click: decode · drag: lasso · middle: pan" if armed
                          else "click: decode · drag: strip · middle: pan")

    def set_latent_dim(self, d: int) -> None:
        for box in (self.pc_x, self.pc_y):
            box.setMaximum(max(2, d))
        index = self.method.findData("identity")
        self.method.model().item(index).setEnabled(d == 2)

    def set_colour_choices(self, has_labels: bool, attribute_names: list[str]) -> None:
        self.colour.clear()
        self.colour.addItem("label" if has_labels else "none", -1)
        for j, name in enumerate(attribute_names):
            self.colour.addItem(name, j)
        self.colour.setEnabled(self.colour.count() > 1)
        self.colour.setToolTip(tooltip("colour the points by their label or by one attribute"
                                       if self.colour.count() > 1 else
                                       "this model's data has no attributes to colour by: points are coloured "
                                       + ("by label" if has_labels else "alike")))

    def select(self, method: str) -> None:
        self.method.setCurrentIndex(max(0, self.method.findData(method)))
        self._sync_enabled()

    def options(self) -> dict:
        if self.method.currentData() != "pca":
            return {}
        return {"components": (self.pc_x.value() - 1, self.pc_y.value() - 1), "keep_residual":
                self.residual.isChecked()}

    def _sync_enabled(self) -> None:
        pca = self.method.currentData() == "pca"
        for w in (self.pc_label, self.pc_x, self.pc_y, self.residual):
            w.setVisible(pca)

    def _emit(self, *_) -> None:
        self._sync_enabled()
        if self.pc_x.value() == self.pc_y.value():
            return
        self.projection_requested.emit(self.method.currentData(), self.options())
