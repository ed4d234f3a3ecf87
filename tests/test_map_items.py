"""The map's cheap items (editor/map/map_items.py): the cursor ring and the label scatter that keeps its
bounding rectangle. The kept rectangle must always equal pyqtgraph's own after any change that moves it."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from latent_atlas.editor.map.map_items import CURSOR_DIAMETER_PX, CursorRing, MapScatter


@pytest.fixture
def plot(qtbot):
    widget = pg.PlotWidget()
    widget.resize(400, 300)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def pyqtgraph_rect(item: MapScatter):
    return pg.ScatterPlotItem.boundingRect(item)


def test_scatter_rect_follows_data_zoom_size_and_resize(qtbot, plot):
    rng = np.random.default_rng(0)
    item = MapScatter(x=rng.normal(size=200), y=rng.normal(size=200), size=5, pen=None, pxMode=True)
    plot.addItem(item)
    qtbot.wait(10)
    first = item.boundingRect()
    assert first == pyqtgraph_rect(item)
    item.setData(x=rng.normal(size=50) * 4 + 3, y=rng.normal(size=50))        # new points
    assert item.boundingRect() == pyqtgraph_rect(item) and item.boundingRect() != first
    plot.getViewBox().setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)    # zoom: pixel padding changes
    qtbot.wait(10)
    assert item.boundingRect() == pyqtgraph_rect(item)
    item.setSize(30)                                                            # bigger spots
    assert item.boundingRect() == pyqtgraph_rect(item)
    plot.resize(800, 200)                                                       # the widget's size
    qtbot.waitUntil(lambda: plot.getViewBox().width() > 600, timeout=2000)
    assert item.boundingRect() == pyqtgraph_rect(item)
    item.clear()
    assert item.boundingRect() == pyqtgraph_rect(item)


def test_cursor_ring_is_placed_hidden_until_then_and_keeps_its_pixel_size(qtbot, plot):
    ring = CursorRing()
    plot.addItem(ring, ignoreBounds=True)
    assert ring.position() is None and not ring.isVisible()
    ring.place(0.25, -0.5)
    assert ring.position() == (0.25, -0.5) and ring.isVisible()
    view = plot.getViewBox()
    for x_range in ((-1, 1), (-100, 100)):
        view.setRange(xRange=x_range, yRange=x_range, padding=0)
        qtbot.wait(10)
        # drawn in device pixels whatever the zoom
        rect = ring.deviceTransform(plot.viewportTransform()).mapRect(ring.boundingRect())
        assert rect.width() == pytest.approx(CURSOR_DIAMETER_PX + 2, abs=1.5)
    before = view.viewRange()
    ring.place(1e4, 1e4)                  # far outside the data: the view does not stretch to it
    qtbot.wait(10)
    assert view.viewRange() == before
