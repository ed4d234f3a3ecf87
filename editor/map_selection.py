"""A selection box on the latent map: a pyqtgraph RectROI the user moves and resizes over the points.
The attribute panel reads the indices of the data points inside it to build group A and group B."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal


class MapSelection(QObject):
    changed = Signal()      # the box moved or was resized (after the drag)

    def __init__(self, latent_map, parent=None):
        super().__init__(parent)
        self._map = latent_map
        self._roi: pg.RectROI | None = None

    @property
    def visible(self) -> bool:
        return self._roi is not None and self._roi.isVisible()

    def show_box(self) -> None:
        """Shows the box; the first time, over the middle quarter of what the map shows."""
        if self._roi is None:
            (x0, x1), (y0, y1) = self._map.view.viewRange()
            w, h = (x1 - x0) / 4, (y1 - y0) / 4
            self._roi = pg.RectROI([x0 + 1.5 * w, y0 + 1.5 * h], [w, h],
                                   pen=pg.mkPen("#ffcc33", width=2), hoverPen=pg.mkPen("#ffe680", width=2))
            self._roi.setZValue(40)
            self._roi.addScaleHandle([0, 0], [1, 1])
            self._roi.sigRegionChangeFinished.connect(lambda _roi: self.changed.emit())
            self._map.plot.addItem(self._roi)
        self._roi.show()

    def hide_box(self) -> None:
        if self._roi is not None:
            self._roi.hide()

    def set_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.show_box()
        self._roi.setPos((min(x0, x1), min(y0, y1)), finish=False)
        self._roi.setSize((abs(x1 - x0), abs(y1 - y0)), finish=False)
        self.changed.emit()

    def box(self) -> tuple[float, float, float, float] | None:
        """(x0, y0, x1, y1) in map coordinates, or None when the box is hidden."""
        if not self.visible:
            return None
        (x, y), (w, h) = self._roi.pos(), self._roi.size()
        return float(x), float(y), float(x + w), float(y + h)

    def indices(self, embedding: np.ndarray | None) -> np.ndarray:
        """Indices of the embedding's points (N, 2) inside the box; empty when hidden."""
        box = self.box()
        if box is None or embedding is None or not len(embedding):
            return np.zeros(0, np.int64)
        x0, y0, x1, y1 = box
        inside = ((embedding[:, 0] >= x0) & (embedding[:, 0] <= x1)
                  & (embedding[:, 1] >= y0) & (embedding[:, 1] <= y1))
        return np.flatnonzero(inside)
