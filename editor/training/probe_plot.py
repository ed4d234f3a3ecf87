"""The training panel's probe map: a fixed set of training images, re-encoded by the training thread every
few seconds and drawn by class, so the user watches the latent space organise itself as the model learns.
The coordinates arrive ready (editor.core.probe_map); this widget only draws them."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from latent_atlas.editor.widgets.palette import label_colour
from latent_atlas.editor.widgets.plain_text import html_text


class ProbePlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setMenuEnabled(False)
        self.plot_widget.setMouseEnabled(x=False, y=False)
        self.plot_widget.hideButtons()
        plot = self.plot_widget.getPlotItem()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.setTitle("Probe latents (PCA)", size="8pt")
        self.scatter = pg.ScatterPlotItem(size=3, pen=None, pxMode=True)
        self.scatter.setEnabled(False)
        plot.addItem(self.scatter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.points: np.ndarray | None = None      # (N, 2) on screen (tests read it)
        self._brushes_for = None
        self._brushes: list = []

    def show_points(self, points: np.ndarray, labels: np.ndarray | None, step: int) -> None:
        """points (N, 2); labels (N,) int or None: one colour per class."""
        if labels is None:
            brushes = pg.mkBrush("#9ecae1")
        else:
            key = (id(labels), len(labels))
            if key != self._brushes_for:          # the probe set's classes never change within a run
                n = int(labels.max()) + 1 if len(labels) else 0
                cache = {i: pg.mkBrush(label_colour(i, n)) for i in range(n)}
                grey = pg.mkBrush("#aaaaaa")
                self._brushes = [cache.get(int(v), grey) for v in labels]
                self._brushes_for = key
            brushes = self._brushes
        self.scatter.setData(x=points[:, 0], y=points[:, 1], brush=brushes)
        self.plot_widget.getPlotItem().setTitle(html_text(f"Probe latents (PCA), step {step:,}"), size="8pt")
        self.plot_widget.getPlotItem().getViewBox().autoRange(padding=0.05)
        self.points = points

    def clear(self) -> None:
        self.scatter.setData([], [])
        self.points = None
        self._brushes_for = None
        self.plot_widget.getPlotItem().setTitle("Probe latents (PCA)", size="8pt")
