"""Graphics items of the map that are cheap on a click (issue 18: click-to-pixels while the machine is busy).

A click moved the cursor with ScatterPlotItem.setData: a new spot array, a geometry change, a re-index of the
scene and PlotItem's plotChanged, about 1 ms each time and twice a click. The cursor is now a ring that
ignores the view's scale (16 px whatever the zoom) and moves with setPos. Every mouse press, release and
hover asks the scene for the items under the pointer, which calls each label scatter's boundingRect, and
pyqtgraph computes that from the device transform each time (~150 calls a click): MapScatter keeps it until
its points, its spot size or the view's transform change.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

CURSOR_DIAMETER_PX = 16


class CursorRing(QGraphicsPathItem):
    """A white ring of CURSOR_DIAMETER_PX pixels at a point of the map; hidden until placed."""

    def __init__(self) -> None:
        path = QPainterPath()
        r = CURSOR_DIAMETER_PX / 2
        path.addEllipse(QPointF(0.0, 0.0), r, r)
        super().__init__(path)
        pen = QPen(QColor("#ffffff"), 2)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setEnabled(False)        # clicks go to the view box beneath
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(30)
        self.hide()

    def place(self, x: float, y: float) -> None:
        if not self.isVisible() or self.pos() != QPointF(x, y):
            self.setPos(x, y)
            self.show()

    def position(self) -> tuple[float, float] | None:
        return (self.pos().x(), self.pos().y()) if self.isVisible() else None


class MapScatter(pg.ScatterPlotItem):
    """A label's points: pyqtgraph's scatter with its bounding rectangle kept between changes."""

    _rect: QRectF | None = None

    def prepareGeometryChange(self) -> None:     # pyqtgraph calls it on new points and on view changes
        self._rect = None
        super().prepareGeometryChange()

    def viewTransformChanged(self) -> None:
        self._rect = None
        super().viewTransformChanged()

    def clear(self) -> None:
        self._rect = None
        super().clear()

    def _updateMaxSpotSizes(self, **kwargs) -> None:
        self._rect = None
        super()._updateMaxSpotSizes(**kwargs)

    def boundingRect(self) -> QRectF:
        if self._rect is None:
            self._rect = super().boundingRect()
        return QRectF(self._rect)
