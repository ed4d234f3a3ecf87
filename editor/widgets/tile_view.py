"""Many small images shown as one: a strip or a grid in a single ImageItem created once; a click says which tile.

Used by the interpolation strip, the prior samples and the traversal grid. Optional axes carry row and
column labels (the traversal's dimensions and values).

The lines between tiles are drawn on top as 1-pixel cosmetic lines as well as held in the image: a grid of
64-pixel emoji shown at 30 pixels a tile sampled only some of the image's 1-pixel separators, so a few
rows and columns had lines and the rest none (Xvfb walk, the emoji CVAE's traversal).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QStackedLayout, QWidget

from latent_atlas.editor.core.tiles import SEPARATOR_VALUE, tile, tile_at
from latent_atlas.editor.widgets.plain_text import PlainLabel
from latent_atlas.editor.widgets.qt_images import show_uint8

PAD = 1
PAD_VALUE = SEPARATOR_VALUE


class ClickViewBox(pg.ViewBox):
    """A fixed view (no pan or zoom) that reports left clicks in image pixel coordinates."""
    clicked = Signal(float, float)

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.clicked.emit(p.x(), p.y())
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None):
        ev.ignore()

    def wheelEvent(self, ev, axis=None):
        ev.ignore()


class TileView(QWidget):
    tile_clicked = Signal(int)

    def __init__(self, parent=None, min_height: int = 90, axes: bool = False):
        super().__init__(parent)
        self.view = ClickViewBox(lockAspect=True, invertY=True, enableMouse=False, defaultPadding=0.0)
        self.plot = pg.PlotItem(viewBox=self.view)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        for side in ("left", "bottom"):
            self.plot.showAxis(side, axes)
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setMinimumHeight(min_height)
        self.widget.setBackground(None)   # the panel's colour around the tiles, not a black box
        self.widget.ci.setContentsMargins(2, 2, 2, 2)
        self.widget.addItem(self.plot)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.item)
        self.separators = QGraphicsPathItem()      # every line between tiles, one screen pixel at any scale
        pen = QPen(QColor(PAD_VALUE, PAD_VALUE, PAD_VALUE))
        pen.setCosmetic(True)
        pen.setWidth(1)
        self.separators.setPen(pen)
        self.separators.setZValue(5)
        self.plot.addItem(self.separators)
        self.placeholder = PlainLabel()                # says what will be here, while nothing is
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #999999;")
        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._stack.addWidget(self.widget)
        self._stack.addWidget(self.placeholder)
        self.image: np.ndarray | None = None      # the tiled array on screen, (H', W', C) uint8
        self.count = 0
        self.ncols = 1
        self.tile_shape: tuple[int, int] = (0, 0)
        self.updates = 0                           # setImage calls, for tests and the drag benchmark
        self._shape = None
        self.view.clicked.connect(self._on_view_clicked)

    def set_placeholder(self, text: str) -> None:
        """Shown instead of the tiles while there are none ("" shows the empty view)."""
        self.placeholder.setText(text)
        self._show_placeholder(self.image is None)

    def _show_placeholder(self, show: bool) -> None:
        self._stack.setCurrentWidget(self.placeholder if show and self.placeholder.text() else self.widget)

    def set_tiles(self, images: np.ndarray, ncols: int) -> None:
        """images (B, H, W, C) uint8, laid out ncols per row."""
        self._show_placeholder(False)
        self.count, self.ncols = len(images), max(1, min(int(ncols), len(images)))
        self.tile_shape = images.shape[1:3]
        self.image = tile(images, self.ncols, PAD, PAD_VALUE)
        show_uint8(self.item, self.image)
        self.updates += 1
        if self.image.shape != self._shape:       # refit only when the layout changes, not per update
            self._shape = self.image.shape
            self.view.setRange(xRange=(0, self.image.shape[1]), yRange=(0, self.image.shape[0]), padding=0.0)
            self._draw_separators()

    def _draw_separators(self) -> None:
        """A line down the middle of each padding column and row between tiles."""
        path = QPainterPath()
        if self.image is not None:
            (h, w), (height, width) = self.tile_shape, self.image.shape[:2]
            for q in range(1, self.ncols):
                x = q * (w + PAD) - PAD / 2
                path.moveTo(x, 0)
                path.lineTo(x, height)
            for r in range(1, -(-self.count // self.ncols)):
                y = r * (h + PAD) - PAD / 2
                path.moveTo(0, y)
                path.lineTo(width, y)
        self.separators.setPath(path)

    def clear(self) -> None:
        self.item.clear()
        self.image, self.count, self._shape = None, 0, None
        self._draw_separators()
        self._show_placeholder(True)

    def tile_centre(self, index: int) -> tuple[float, float]:
        """Image coordinates of a tile's centre (x right, y down)."""
        h, w = self.tile_shape
        r, q = divmod(index, self.ncols)
        return q * (w + PAD) + w / 2, r * (h + PAD) + h / 2

    def _on_view_clicked(self, x: float, y: float) -> None:
        if self.image is None:
            return
        i = tile_at(x, y, self.tile_shape, self.ncols, self.count, PAD)
        if i is not None:
            self.tile_clicked.emit(i)
