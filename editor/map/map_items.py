"""Graphics items of the map that are cheap on a click (issue 18: click-to-pixels while the machine is busy).

A click moved the cursor with ScatterPlotItem.setData: a new spot array, a geometry change, a re-index of the
scene and PlotItem's plotChanged, about 1 ms each time and twice a click. The cursor is now a ring that
ignores the view's scale (16 px whatever the zoom) and moves with setPos. Every mouse press, release and
hover asks the scene for the items under the pointer, which calls each label scatter's boundingRect, and
pyqtgraph computes that from the device transform each time (~150 calls a click): MapScatter keeps it until
its points, its spot size or the view's transform change, and draws itself from a pixmap Qt keeps
(DeviceCoordinateCache) while only the strip's path moves over it: a drag repainted all 10,000 points at every
move, half the GUI thread's time. The strip's path is a StripPath: a dashed line and dots drawn in one paint,
about a tenth of PlotDataItem's setData with symbols (1.4 ms a drag move).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

CURSOR_DIAMETER_PX = 16
DOT_DIAMETER_PX = 6
PATH_COLOUR = "#ffffff"


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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

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


class StripPath(pg.GraphicsObject):
    """The strip's frames on the map: a dashed white line through them and a dot of DOT_DIAMETER_PX pixels on
    each (whatever the zoom), each dot white or its own colour (frames off the data)."""

    def __init__(self) -> None:
        super().__init__()
        self._x = self._y = np.zeros(0)
        self._colours: list[str] = []
        self._path = QPainterPath()
        self._pen = QPen(QColor(PATH_COLOUR), 2, Qt.PenStyle.DashLine)
        self._pen.setCosmetic(True)
        self.setZValue(20)
        self.setEnabled(False)                    # clicks and drags go to the view box beneath
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def setData(self, x, y, colours: list[str] | None = None) -> None:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        self.prepareGeometryChange()
        self._x, self._y = x, y
        self._colours = list(colours) if colours is not None else [PATH_COLOUR] * len(x)
        self._path = pg.arrayToQPath(x, y) if len(x) else QPainterPath()
        self.update()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        return self._x, self._y

    def colours(self) -> list[str]:
        return list(self._colours)

    def viewTransformChanged(self) -> None:      # the dots' margin is in pixels: it changes with the zoom
        self.prepareGeometryChange()
        super().viewTransformChanged()

    def boundingRect(self) -> QRectF:
        if not len(self._x):
            return QRectF()
        px, py = self.pixelSize()
        m = DOT_DIAMETER_PX / 2 + 2
        return self._path.boundingRect().adjusted(-m * px, -m * py, m * px, m * py)

    def paint(self, painter, *_args) -> None:
        if not len(self._x):
            return
        painter.setPen(self._pen)
        painter.drawPath(self._path)
        to_device = painter.transform()
        painter.resetTransform()
        painter.setPen(Qt.PenStyle.NoPen)
        r = DOT_DIAMETER_PX / 2
        for x, y, colour in zip(self._x, self._y, self._colours):
            painter.setBrush(QColor(colour))
            painter.drawEllipse(to_device.map(QPointF(x, y)), r, r)
