"""A lasso on the latent map: while armed, a left drag draws a freehand outline, closed on release, and the
data points inside it can become group A or B of an attribute vector. The groups are drawn as rings.

The geometry (which points are inside) is Qt-free: editor.core.lasso.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtGui import QColor, QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem

from latent_atlas.editor.core.lasso import MIN_VERTICES, clean_polygon, indices_in_polygon

LASSO_COLOUR = "#ffcc33"
GROUP_COLOURS = {"A": "#ff7043", "B": "#4fc3f7"}


class MapSelection(QObject):
    changed = Signal()              # a lasso was closed (or set, or cleared)
    armed_changed = Signal(bool)

    def __init__(self, latent_map, parent=None):
        super().__init__(parent)
        self._map = latent_map
        self._polygon = np.zeros((0, 2))
        self._drawing: list[tuple[float, float]] = []
        self.outline = QGraphicsPathItem()
        self.outline.setPen(pg.mkPen(LASSO_COLOUR, width=2))
        self.outline.setBrush(QColor(255, 204, 51, 40))
        self.outline.setZValue(40)
        self.outline.setEnabled(False)
        self._map.plot.addItem(self.outline)
        self.rings: dict[str, pg.ScatterPlotItem] = {}
        for group, colour in GROUP_COLOURS.items():
            ring = pg.ScatterPlotItem(size=9, pen=pg.mkPen(colour, width=1.2), brush=None, pxMode=True)
            ring.setZValue(15)
            ring.setEnabled(False)
            self._map.plot.addItem(ring)
            self.rings[group] = ring
        view = latent_map.view
        view.lasso_started.connect(self._on_lasso_started)
        view.lasso_moved.connect(self._on_lasso_moved)
        view.lasso_finished.connect(self._on_lasso_finished)

    @property
    def armed(self) -> bool:
        return self._map.view.lasso_armed

    def arm(self, on: bool) -> None:
        """While armed, left drags on the map draw lassos (not interpolation paths)."""
        self._map.view.lasso_armed = bool(on)
        self.outline.setVisible(bool(on))
        self.armed_changed.emit(bool(on))

    def polygon(self) -> np.ndarray:
        """(M, 2) vertices of the last closed lasso in map coordinates; empty when there is none."""
        return self._polygon.copy()

    def set_polygon(self, points) -> None:
        poly = clean_polygon(points)
        self._polygon = poly if len(poly) >= MIN_VERTICES else np.zeros((0, 2))
        self._draw(self._polygon, closed=True)
        self.changed.emit()

    def clear(self) -> None:
        self._drawing = []
        self.set_polygon([])

    def indices(self, embedding: np.ndarray | None) -> np.ndarray:
        """Indices of the embedding's points (N, 2) inside the last lasso; empty when there is none."""
        if embedding is None or not len(self._polygon):
            return np.zeros(0, np.int64)
        return indices_in_polygon(embedding, self._polygon)

    def show_group(self, group: str, points: np.ndarray | None) -> None:
        """Rings around a group's points (K, 2) on the map; None or empty hides them."""
        ring = self.rings[group]
        if points is None or not len(points):
            ring.setData([], [])
        else:
            ring.setData(points[:, 0], points[:, 1])

    # -- drawing --------------------------------------------------------------------------------------
    def _on_lasso_started(self, x: float, y: float) -> None:
        self._drawing = [(x, y)]
        self.outline.setVisible(True)

    def _on_lasso_moved(self, x: float, y: float) -> None:
        if self._drawing and self._drawing[-1] != (x, y):
            self._drawing.append((x, y))
            self._draw(np.asarray(self._drawing), closed=False)

    def _on_lasso_finished(self) -> None:
        self.set_polygon(self._drawing)
        self._drawing = []

    def _draw(self, points: np.ndarray, closed: bool) -> None:
        path = QPainterPath()
        if len(points):
            path.moveTo(QPointF(*points[0]))
            for x, y in points[1:]:
                path.lineTo(QPointF(x, y))
            if closed:
                path.closeSubpath()
        self.outline.setPath(path)
