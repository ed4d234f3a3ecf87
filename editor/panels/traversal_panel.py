"""Latent traversal: for the current latent, each of the top dimensions swept from -3 to +3 with the others
fixed, one row per dimension. Rows are ordered by the dimension's average KL over the data (the most used
first; a GAN has no posterior, so index order). One batched decode on the panel's own channel, sent only
while the tab is visible.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSpinBox, QVBoxLayout, QWidget

from latent_atlas.editor.core.messages import DecodeRequest
from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.widgets.plain_text import PlainLabel
from latent_atlas.editor.widgets.tile_view import PAD, TileView
from latent_atlas.models.latent.latent_math import dims_by_kl, kl_per_dimension, traversal

DEFAULT_ROWS = 8
MIN_LABEL_WIDTH = 78        # px of the row-label axis
LABEL_GAP = 6               # px at least between two values under the columns


def ordered_dimensions(loaded) -> tuple[list[int], np.ndarray | None]:
    """(dimensions, most used first; KL per dimension (D,) or None for a model without posteriors)."""
    d = loaded.latents.shape[1]
    if loaded.logvars is None:
        return list(range(d)), None
    mu, logvar = torch.from_numpy(loaded.latents), torch.from_numpy(loaded.logvars)
    return dims_by_kl(mu, logvar), kl_per_dimension(mu, logvar).numpy()


def value_labels(values: np.ndarray) -> list[str]:
    """Each value with as few decimals as tell them apart exactly (-2.25, -1.5, -0.75, 0, +0.75), never
    rounded to a neighbour's label: '+.1f' printed -2.25 as -2.2 and -0.75 as -0.8."""
    for decimals in range(3):      # at most 2: a value such as 15/7 is shown as 2.14
        if np.allclose(np.round(values, decimals), values, atol=1e-6):
            break
    out = []
    for v in values:
        text = f"{v:+.{decimals}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        out.append("0" if float(text) == 0 else text)
    return out


class TraversalPanel(QWidget):
    def __init__(self, state: EditorState, controller, parent=None):
        super().__init__(parent)
        self._state, self._controller = state, controller
        self._grid = controller.channel("traversal")
        self._dirty = False
        self.order: list[int] = []
        self.kl: np.ndarray | None = None
        self.dims: list[int] = []              # rows on screen, top to bottom
        self.latents: np.ndarray | None = None  # (rows * values, D) on screen
        self._build()
        state.events.model_changed.connect(self._on_state_model_changed)
        state.events.latent_changed.connect(self._on_state_latent_changed)
        self._grid.result.connect(self._on_grid_decoded)

    def _build(self) -> None:
        self.rows = QSpinBox()
        self.rows.setRange(1, DEFAULT_ROWS)
        self.rows.setValue(DEFAULT_ROWS)
        self.rows.setToolTip("How many dimensions to show, the most used (highest KL) first")
        self.values = QSpinBox()
        self.values.setRange(3, 15)
        self.values.setValue(9)
        self.extent = QDoubleSpinBox()
        self.extent.setRange(0.5, 6.0)
        self.extent.setSingleStep(0.5)
        self.extent.setValue(3.0)
        self.extent.setPrefix("±")
        self.grid = TileView(min_height=160, axes=True)
        self.grid.plot.getAxis("left").setWidth(MIN_LABEL_WIDTH)
        top = QHBoxLayout()
        for text, w in (("Dimensions", self.rows), ("Values", self.values), ("Range", self.extent)):
            top.addWidget(PlainLabel(text))
            top.addWidget(w)
            top.addSpacing(6)
        top.addStretch(1)
        hint = PlainLabel("Each row sets one latent dimension to the values below, the others fixed. "
                      "Click an image to make it current.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #999999;")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.grid, 1)
        layout.addWidget(hint)
        for w in (self.rows, self.values, self.extent):
            w.valueChanged.connect(self.request)
        self.grid.tile_clicked.connect(self._on_grid_tile_clicked)
        self._value_texts: list[str] = []
        self.column_labels: list[tuple[float, str]] = []     # (x in image pixels, text) under the columns
        self.grid.view.sigTransformChanged.connect(self._label_columns)

    def value_grid(self) -> np.ndarray:
        e = self.extent.value()
        return np.linspace(-e, e, self.values.value()).astype(np.float32)

    def request(self) -> None:
        z = self._state.latent()
        if self._state.loaded is None or z is None:
            return
        if not self.isVisible():
            self._dirty = True    # decoded when the tab is shown: no worker time for a hidden grid
            return
        self._dirty = False
        dims = self.order[:self.rows.value()]
        batch = traversal(torch.from_numpy(z), dims, torch.from_numpy(self.value_grid()))   # (rows, V, D)
        batch = batch.reshape(-1, z.shape[0]).numpy()
        c = self._state.condition_tensor()
        self._grid.submit(DecodeRequest(torch.from_numpy(batch), c), (batch, dims))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.request()

    def _on_grid_decoded(self, result, asked: tuple[np.ndarray, list[int]]) -> None:
        self.latents, self.dims = asked
        values = self.value_grid()
        self.grid.set_tiles(result.images, ncols=len(self.latents) // max(1, len(self.dims)))
        self._label_axes(values)

    def _label_axes(self, values: np.ndarray) -> None:
        h = self.grid.tile_shape[0]
        rows = []
        for r, d in enumerate(self.dims):
            text = f"z{d}" if self.kl is None else f"z{d}  KL {self.kl[d]:.2f}"
            rows.append((r * (h + PAD) + h / 2, text))
        self._value_texts = value_labels(values)
        self._label_columns()
        left = self.grid.plot.getAxis("left")
        # pyqtgraph drops a tick label that does not fit the axis: make the axis as wide as the widest row
        metrics = QFontMetrics(left.style["tickFont"] or self.font())
        widest = max((metrics.horizontalAdvance(text) for _, text in rows), default=0)
        margin = max(0, left.style["tickLength"]) + left.style["tickTextOffset"][0] + 6
        left.setWidth(max(MIN_LABEL_WIDTH, widest + margin))
        left.setTicks([rows])

    def _label_columns(self, *_) -> None:
        """The values under the columns, every one where they fit and else every k-th, always 0 and the
        two ends' pattern symmetric: at 1280 pixels "+1.5" and "+2.25" ran into each other, and 15 values
        printed one long smear. Again on every resize (the view's transform changes)."""
        texts = self._value_texts
        if not texts or self.grid.image is None:
            self.column_labels = []
            self.grid.plot.getAxis("bottom").setTicks([[]])
            return
        w = self.grid.tile_shape[1]
        pixel = self.grid.view.viewPixelSize()[0]              # view units per screen pixel
        column_px = (w + PAD) / pixel if pixel > 0 else 1e9
        axis = self.grid.plot.getAxis("bottom")
        metrics = QFontMetrics(axis.style["tickFont"] or self.font())
        widest = max(metrics.horizontalAdvance(t) for t in texts) + LABEL_GAP
        step = max(1, math.ceil(widest / column_px))
        centre = len(texts) // 2
        self.column_labels = [(q * (w + PAD) + w / 2, t) for q, t in enumerate(texts) if (q - centre) % step == 0]
        axis.setTicks([self.column_labels])

    def _on_grid_tile_clicked(self, index: int) -> None:
        if self.latents is not None and index < len(self.latents):
            self._controller.set_latent(self.latents[index].copy(), "traversal")

    def _on_state_model_changed(self, loaded) -> None:
        self.order, self.kl = ordered_dimensions(loaded)
        self.rows.blockSignals(True)
        self.rows.setMaximum(len(self.order))
        self.rows.setValue(min(DEFAULT_ROWS, len(self.order)))
        self.rows.blockSignals(False)
        self._grid.forget()
        self.latents, self.dims = None, []
        self.grid.clear()

    def _on_state_latent_changed(self, state: EditorState) -> None:
        self.request()
