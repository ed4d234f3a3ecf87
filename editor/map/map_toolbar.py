"""Projection controls above the map: method, which PCA components, off-plane residual, colour by; and under
them a line saying what the mouse does on the map.

The controls' row keeps one height (hiding PCA's spin boxes for t-SNE moved the map up a pixel) and fits
the map's column of a 1100-pixel window (it was 656 px wide there and cut "keep off-plane residual"); the
mouse hint has a line of its own (beside the controls it was elided to "click: …" at 1280 pixels)."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QSpinBox, QVBoxLayout, QWidget

from latent_atlas.editor.widgets.plain_text import PlainLabel, tooltip
from latent_atlas.editor.widgets.status_line import StatusLine

METHODS = [("PCA", "pca"), ("t-SNE", "tsne"), ("UMAP", "umap"), ("Latent (2-D)", "identity")]
UMAP_INSTALL = "UMAP needs the optional package umap-learn: pip install 'latent-atlas[umap]'"
STRIP_HINT = "click: decode · drag: strip · middle drag: pan · wheel: zoom · right drag: zoom one axis"
LASSO_HINT = "click: decode · drag: lasso round a group · middle drag: pan · wheel: zoom"


def method_name(method: str) -> str:
    """What the editor calls a projection method everywhere: "t-SNE", not "TSNE"."""
    return {key: text for text, key in METHODS}.get(method, method)


def narrow(box: QComboBox, chars: int = 9) -> None:
    """A box about `chars` characters wide whatever its items (they have no icons): its list opens wider."""
    box.setIconSize(QSize(0, 0))
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(chars)


def umap_installed() -> bool:
    """Without importing it (umap-learn compiles its kernels on import: seconds): the projections' own test."""
    from latent_atlas.models.latent.projection import umap_available

    return umap_available()


class MapToolbar(QWidget):
    projection_requested = Signal(str, dict)   # method, options
    colour_requested = Signal(int)             # -1: by label, j >= 0: by attribute j

    def __init__(self, parent=None):
        super().__init__(parent)
        self.method = QComboBox()
        # as wide as "Latent (2-D)", not as "UMAP (not installed)": the list opens as wide as its items
        narrow(self.method)
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
        self.residual = QCheckBox("off-plane residual")
        self.residual.setToolTip("PCA: keep the off-plane residual. A clicked point keeps the nearest data "
                                 "point's latent outside the 2-D plane, so decodes stay on the data")
        self.controls = QWidget()
        layout = QHBoxLayout(self.controls)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(PlainLabel("Projection"))
        layout.addWidget(self.method)
        self.pc_label = PlainLabel("axes")
        layout.addWidget(self.pc_label)
        layout.addWidget(self.pc_x)
        layout.addWidget(self.pc_y)
        layout.addWidget(self.residual)
        layout.addWidget(PlainLabel("Colour"))
        self.colour = QComboBox()
        narrow(self.colour, 7)            # an attribute's long name is elided here, whole in the list
        self.colour.setToolTip("colour the points by their label or by one binary attribute")
        layout.addWidget(self.colour)
        layout.addStretch(1)
        self.controls.setFixedHeight(self.controls.sizeHint().height())   # with PCA's boxes, shown or not
        self.hint = StatusLine(STRIP_HINT)          # elides: the map keeps its width
        self.hint.setToolTip("left click: decode that point · left drag: interpolation strip (or a lasso while "
                             "Lasso on map is on) · middle drag: pan · wheel: zoom · right drag: zoom one axis")
        self.hint.setStyleSheet("color: #888888; font-size: 9pt;")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 2, 4, 2)
        outer.setSpacing(1)
        outer.addWidget(self.controls)
        outer.addWidget(self.hint)
        self.method.activated.connect(self._emit)
        self.pc_x.editingFinished.connect(self._emit)
        self.pc_y.editingFinished.connect(self._emit)
        self.residual.toggled.connect(self._emit)
        self.colour.activated.connect(lambda _: self.colour_requested.emit(self.colour.currentData()))

    def show_lasso_hint(self, armed: bool) -> None:
        """The hint names what a left drag does now: draw a lasso, or an interpolation strip."""
        self.hint.setText(LASSO_HINT if armed else STRIP_HINT)

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
