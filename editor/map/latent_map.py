"""The 2-D map of the latent space: a scatter of the data's latents, a cursor, a path, hover thumbnails.

Left click: decode that point. Left drag: an interpolation path, or a lasso while the lasso is armed.
Middle drag: pan. Wheel: zoom. Items are created once and updated with setData.
With many points the scatter draws a level of detail (editor.core.map_detail): a subsample when zoomed out,
every point in view when zoomed in. Hover, click and the lasso search all the points.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QFrame, QVBoxLayout, QWidget

from latent_atlas.editor.core.map_detail import DRAW_BUDGET, LevelOfDetail
from latent_atlas.editor.map.map_items import PATH_COLOUR, CursorRing, MapScatter, StripPath
from latent_atlas.editor.widgets.palette import label_colour
from latent_atlas.editor.widgets.plain_text import PlainLabel, html_text
from latent_atlas.editor.widgets.qt_images import to_pixmap

HOVER_RADIUS_PX = 8
LEFT_AXIS_PX = 44
MAX_LEGEND = 20


class MapViewBox(pg.ViewBox):
    clicked = Signal(float, float)
    drag_started = Signal(float, float)
    dragged = Signal(float, float)
    drag_finished = Signal(float, float)
    lasso_started = Signal(float, float)     # while armed, a left drag draws a lasso instead of a path
    lasso_moved = Signal(float, float)
    lasso_finished = Signal()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lasso_armed = False
        self._lasso_drag = False

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.clicked.emit(p.x(), p.y())
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._lasso_drag = self.lasso_armed     # a drag stays what it began as
        if self._lasso_drag:
            if ev.isStart():
                start = self.mapSceneToView(ev.buttonDownScenePos())
                self.lasso_started.emit(start.x(), start.y())
            self.lasso_moved.emit(p.x(), p.y())
            if ev.isFinish():
                self.lasso_finished.emit()
            return
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self.drag_started.emit(start.x(), start.y())
        if ev.isFinish():
            self.drag_finished.emit(p.x(), p.y())
        else:
            self.dragged.emit(p.x(), p.y())


class HoverThumbnail(QFrame):
    """The nearest data image and its label, floating beside the mouse."""

    def __init__(self, parent):
        super().__init__(parent)
        self.setStyleSheet("HoverThumbnail { background: #202020; border: 1px solid #909090; }"
                           "QLabel { color: #eeeeee; font-size: 9pt; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)   # a click goes to the map below
        self.image = PlainLabel()
        self.caption = PlainLabel()
        layout.addWidget(self.image)
        layout.addWidget(self.caption)
        self.hide()

    def show_image(self, image: np.ndarray, caption: str) -> None:
        self.image.setPixmap(to_pixmap(image, 84))
        self.caption.setText(caption)


class LatentMap(QWidget):
    """Emits `point_clicked(x, y, data_index or -1)` and the drag signals of its view box.

    draw_budget: at most this many points are drawn near the view (None: all of them, the old drawing)."""

    point_clicked = Signal(float, float, int)

    def __init__(self, parent=None, draw_budget: int | None = DRAW_BUDGET):
        super().__init__(parent)
        self.draw_budget = draw_budget
        self._detail: LevelOfDetail | None = None
        self.drawn = np.zeros(0, np.int64)     # indices of the points the scatter holds now
        self.view = MapViewBox()
        self.view.setAspectLocked(False)
        self.plot_widget = pg.PlotWidget(viewBox=self.view)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        for side in ("left", "bottom"):
            # grid lines and labels at the major ticks only: the minor levels' lines took 9 of a pan
            # frame's 15 ms with no points drawn (bench/bench_map.py)
            self.plot.getAxis(side).setStyle(maxTickLevel=0)
        # a fixed width for the y labels ("-100.5" fits): pyqtgraph widens the axis for a longer label and
        # never narrows it, so the view box moved under the pointer after one zoom, and the same view range
        # drew at other pixels after another map had been shown (a map view's recipe could not be shown again)
        self.plot.getAxis("left").setWidth(LEFT_AXIS_PX)
        self.plot.setMenuEnabled(False)
        # the legend has its own column right of the view, so it never covers points (issue 15, finding 14)
        self.legend = pg.LegendItem(labelTextSize="8pt", brush=(20, 20, 20, 200), pen=(90, 90, 90))
        self.plot.layout.addItem(self.legend, 2, 3)
        self.plot.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop)
        self._groups: list[pg.ScatterPlotItem] = []
        self._group_indices: list[np.ndarray] = []
        self._group_key = None
        self._labels: np.ndarray | None = None
        self._label_names: list[str] = []
        self.path_item = StripPath()         # outside the view's auto-range: a path off the data moves no view
        self.plot.addItem(self.path_item, ignoreBounds=True)
        self.cursor_item = CursorRing()      # moved with setPos, outside the view's auto-range
        self.plot.addItem(self.cursor_item, ignoreBounds=True)
        self.thumbnail = HoverThumbnail(self.plot_widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self._embedding = np.zeros((0, 2), np.float32)
        self._tree = None                      # scipy.spatial.cKDTree of the embedding
        self._images: np.ndarray | None = None
        self._captions: list[str] = []
        self._hover_proxy = pg.SignalProxy(self.plot_widget.scene().sigMouseMoved, rateLimit=60,
                                           slot=self._on_scene_mouse_moved)
        self.view.clicked.connect(self._on_view_clicked)
        self.view.sigRangeChanged.connect(self._on_range_changed)
        self.plot_widget.viewport().installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Leave:
            self.thumbnail.hide()           # the pointer left the map: nothing to show the nearest image of
        return False

    # -- data -----------------------------------------------------------------------------------------
    def set_points(self, embedding: np.ndarray, labels: np.ndarray | None, label_names: list[str],
                   images: np.ndarray | None, title: str = "") -> None:
        """embedding (N, 2); labels (N,) int or None; images (N, H, W, C) uint8 for hover thumbnails."""
        self._embedding = np.asarray(embedding, np.float32)
        self._tree = None                      # built on the first hover or click (scipy costs ~0.5 s to import,
        #                                        and a warm start draws the map before anything heavy)
        self._images = images
        self.thumbnail.hide()                  # it showed a point of the map before this one
        self._labels = labels
        self._label_names = label_names
        self._captions = label_names
        self._redraw_groups()
        self.plot.setTitle(title, size="9pt")
        self._frame_points()

    def _frame_points(self) -> None:
        """The view shows the data points: never the cursor, path or rings, which may still stand where
        the previous map put them, and which must not move the view when they change."""
        if self._groups and len(self._embedding):
            lo, hi = self._embedding.min(axis=0), self._embedding.max(axis=0)
            span = np.maximum(hi - lo, 1e-6)
            self.view.setRange(QRectF(float(lo[0]), float(lo[1]), float(span[0]), float(span[1])), padding=0.05)
        self.view.disableAutoRange()
        if self._detail is None or not self._detail.covers(self._view_rect()):
            self._draw_detail()              # a new range drew them already

    def set_embedding(self, embedding: np.ndarray) -> None:
        self.set_points(embedding, self._labels, self._label_names, self._images, self.plot.titleLabel.text)

    def _groups_of_points(self) -> list[tuple[int | None, np.ndarray, object]]:
        labels = self._labels
        if labels is None:
            return [(None, np.arange(len(self._embedding)), pg.mkColor("#9ecae1"))]
        n = int(labels.max()) + 1 if len(labels) else 0
        groups = [(i, np.flatnonzero(labels == i), label_colour(i, n)) for i in range(n)]
        unlabelled = np.flatnonzero(labels < 0)    # images at the root of an image folder
        if len(unlabelled):
            groups.append((None, unlabelled, pg.mkColor("#aaaaaa")))
        return groups

    def _redraw_groups(self) -> None:
        emb = self._embedding
        key = (id(self._labels), len(emb))
        lod = self.draw_budget is not None
        self._detail = LevelOfDetail(emb, self.draw_budget) if lod else None
        if key == self._group_key and self._groups:
            # same points, new positions (a projection switch): update the items made before
            if not lod:
                for item, idx in zip(self._groups, self._group_indices):
                    item.setData(x=emb[idx, 0], y=emb[idx, 1])
            return                               # with a level of detail, _frame_points draws them
        for item in self._groups:
            self.plot.removeItem(item)
            self.legend.removeItem(item)
        self._groups, self._group_indices, self._group_key = [], [], key
        groups = self._groups_of_points()
        for i, idx, colour in groups:
            colour.setAlpha(170)
            # one item per label: pxMode, a shared brush and no pen keep 60,000 points fast
            shown = idx[:0] if lod else idx       # with a level of detail, _frame_points fills them
            item = MapScatter(x=emb[shown, 0], y=emb[shown, 1], size=5, pen=None,
                              brush=pg.mkBrush(colour), pxMode=True, hoverable=False)
            item.setEnabled(False)   # pyqtgraph then sends clicks on points to the view box, not the scatter
            self.plot.addItem(item)
            self._groups.append(item)
            self._group_indices.append(idx)
            if i is not None and len(groups) <= MAX_LEGEND:
                self.legend.addItem(item, html_text(self._label_names[i] if i < len(self._label_names) else i, 60))
        self._fit_legend()

    def _fit_legend(self) -> None:
        """As tall as its rows, at the top of its column; no column at all without classes (a GAN's map)."""
        shown = bool(self.legend.items)
        self.legend.setVisible(shown)
        self.legend.setMaximumHeight(self.legend.layout.preferredHeight() + 10 if shown else 0)
        self.legend.setMaximumWidth(16_777_215 if shown else 0)
        self.plot.layout.invalidate()

    def _view_rect(self) -> tuple[float, float, float, float]:
        (x0, x1), (y0, y1) = self.view.viewRange()
        return x0, x1, y0, y1

    def _on_range_changed(self, *_) -> None:
        if self._detail is not None and self._groups and not self._detail.covers(self._view_rect()):
            self._draw_detail()

    def _draw_detail(self) -> None:
        """Give each label's scatter its points among those the level of detail picks for the view."""
        if self._detail is None:
            self.drawn = np.arange(len(self._embedding))
            return
        self.drawn = self._detail.choose(self._view_rect())
        picked = np.zeros(len(self._embedding), bool)
        picked[self.drawn] = True
        emb = self._embedding
        for item, idx in zip(self._groups, self._group_indices):
            shown = idx[picked[idx]]
            item.setData(x=emb[shown, 0], y=emb[shown, 1])

    # -- cursor and path ----------------------------------------------------------------------------
    def set_cursor(self, x: float, y: float) -> None:
        self.cursor_item.place(x, y)

    def cursor_position(self) -> tuple[float, float] | None:
        """Where the cursor ring is, in map coordinates; None before the first point."""
        return self.cursor_item.position()

    def set_path(self, points: np.ndarray | None, marked: np.ndarray | None = None, mark_colour: str = "") -> None:
        """The strip's frames (P, 2) as a dashed path; frames flagged in marked (P,) bool in mark_colour."""
        if points is None or len(points) == 0:
            self.path_item.setData([], [])
        elif marked is None or not np.any(marked):
            self.path_item.setData(points[:, 0], points[:, 1])
        else:
            self.path_item.setData(points[:, 0], points[:, 1], [mark_colour if m else PATH_COLOUR for m in marked])

    def nearest(self, x: float, y: float, radius_px: float = HOVER_RADIUS_PX) -> int:
        """Index of the data point within radius_px screen pixels of (x, y), else -1."""
        if self._tree is None:
            if self._embedding is None or not len(self._embedding):
                return -1
            from scipy.spatial import cKDTree

            self._tree = cKDTree(self._embedding)
        _, i = self._tree.query([x, y])
        here = self.view.mapViewToScene(QPointF(x, y))
        there = self.view.mapViewToScene(QPointF(*self._embedding[i]))
        return int(i) if (here - there).manhattanLength() <= radius_px * 1.5 else -1

    # -- slots ---------------------------------------------------------------------------------------
    def _on_view_clicked(self, x: float, y: float) -> None:
        self.set_cursor(x, y)   # the marker moves at once; the image follows from the worker
        self.point_clicked.emit(x, y, self.nearest(x, y))

    def _on_scene_mouse_moved(self, args) -> None:
        pos = args[0]
        if not self.view.sceneBoundingRect().contains(pos):
            self.thumbnail.hide()
            return
        p = self.view.mapSceneToView(pos)
        self.show_thumbnail(self.nearest(p.x(), p.y()), pos)

    def show_thumbnail(self, index: int, scene_pos) -> None:
        if index < 0 or self._images is None:
            self.thumbnail.hide()
            return
        caption = f"#{index}"
        if self._labels is not None and 0 <= self._labels[index] < len(self._label_names):
            caption += f"  {self._label_names[self._labels[index]]}"
        self.thumbnail.show_image(self._images[index], caption)
        widget_pos = self.plot_widget.mapFromScene(scene_pos)
        self.thumbnail.adjustSize()
        # below right of the pointer; to its left or above it where the map ends, never under it
        w, h, gap = self.thumbnail.width(), self.thumbnail.height(), 14
        x, y = widget_pos.x() + gap, widget_pos.y() + gap
        if x + w > self.plot_widget.width() - 2:
            x = widget_pos.x() - gap - w
        if y + h > self.plot_widget.height() - 2:
            y = widget_pos.y() - gap - h
        self.thumbnail.move(max(0, x), max(0, y))
        self.thumbnail.show()
        self.thumbnail.raise_()
