"""Every line between tiles is on screen when the tiles are drawn smaller than they are (Xvfb walk: the
emoji CVAE's traversal grid of 64-pixel images at ~30 pixels a tile showed lines between some rows and
columns and none between the rest)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF

from latent_atlas.editor.widgets.tile_view import PAD, TileView


def screen_pixels(qtbot, view: TileView) -> np.ndarray:
    image = view.widget.grab().toImage()
    image = image.convertToFormat(image.Format.Format_RGB888)
    arr = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return arr[:, :image.width() * 3].reshape(image.height(), image.width(), 3)


def on_screen(view: TileView, x: float, y: float) -> tuple[int, int]:
    p = view.widget.mapFromScene(view.view.mapViewToScene(QPointF(x, y)))
    return p.x(), p.y()


def test_each_separator_of_a_shrunk_grid_is_drawn(qtbot):
    view = TileView(axes=True)
    qtbot.addWidget(view)
    view.resize(330, 300)
    view.show()
    qtbot.waitExposed(view)
    rows, cols, size = 8, 9, 64
    view.set_tiles(np.full((rows * cols, size, size, 3), 255, np.uint8), ncols=cols)
    qtbot.wait(50)
    x0, _ = on_screen(view, 0, 0)
    x1, _ = on_screen(view, size + PAD, 0)
    assert 0 < x1 - x0 < size / 1.5, "the tiles must be drawn well below their own size"
    pixels = screen_pixels(qtbot, view)
    grid = pixels.min(axis=2).astype(int)
    missing = []
    for q in range(1, cols):
        x, _ = on_screen(view, q * (size + PAD) - PAD / 2, 0)
        _, y = on_screen(view, 0, size / 2)               # across the middle of the first row of tiles
        if grid[y, x - 1:x + 2].min() > 200:
            missing.append(f"column {q}")
    for r in range(1, rows):
        _, y = on_screen(view, 0, r * (size + PAD) - PAD / 2)
        x, _ = on_screen(view, size / 2, 0)
        if grid[y - 1:y + 2, x].min() > 200:
            missing.append(f"row {r}")
    assert not missing, missing
    # and only there: the middle of a white tile is white on screen
    x, y = on_screen(view, size / 2, size / 2)
    assert grid[y, x] > 200


def test_colour_and_grey_tiles_reach_the_screen_with_their_own_values(qtbot):
    """uint8 tiles go to the screen as they are (no levels: pyqtgraph does not rescale them), colour and grey."""
    view = TileView()
    qtbot.addWidget(view)
    view.resize(400, 200)
    view.show()
    qtbot.waitExposed(view)
    colours = np.array([[250, 30, 7], [12, 200, 90], [1, 2, 254], [128, 127, 129]], np.uint8)
    for tiles in (np.broadcast_to(colours[:, None, None, :], (4, 16, 16, 3)).copy(),
                  np.broadcast_to(colours[:, None, None, :1], (4, 16, 16, 1)).copy()):
        view.set_tiles(tiles, ncols=4)
        qtbot.wait(50)
        pixels = screen_pixels(qtbot, view)
        for i in range(4):
            x, y = on_screen(view, i * (16 + PAD) + 8, 8)
            want = tiles[i, 0, 0]
            assert np.array_equal(pixels[y, x], np.broadcast_to(want, 3)), (i, pixels[y, x], want)
