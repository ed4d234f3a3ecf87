"""The controls above the map hold still and fit (Xvfb walk at 1100x700, 1280x800 and 1600x1000)."""
from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLabel

from tests.editor_helpers import open_and_wait


def test_switching_to_tsne_does_not_move_the_map(qtbot, window):
    """Hiding PCA's spin boxes made the controls' row a pixel lower and the map moved up under the pointer."""
    toolbar, plot = window.map_toolbar, window.map

    def map_top() -> int:
        return plot.mapTo(window, QPoint(0, 0)).y()

    qtbot.wait(20)
    before, height = map_top(), toolbar.height()
    toolbar.select("tsne")
    qtbot.wait(20)
    assert not toolbar.pc_x.isVisible() and (map_top(), toolbar.height()) == (before, height)
    toolbar.select("pca")
    qtbot.wait(20)
    assert toolbar.pc_x.isVisible() and map_top() == before


def test_the_controls_fit_a_small_window_and_the_mouse_hint_is_whole_in_a_common_one(qtbot, window,
                                                                                       digits_vae_path):
    open_and_wait(qtbot, window, digits_vae_path)
    toolbar = window.map_toolbar
    window.resize(1100, 700)
    qtbot.waitUntil(lambda: window.width() == 1100, timeout=2000)
    qtbot.wait(20)
    # each control as wide as it asks: "keep off-plane res" was cut at the right of its check box
    for w in (toolbar.method, toolbar.pc_x, toolbar.pc_y, toolbar.residual, toolbar.colour):
        assert w.width() >= w.sizeHint().width(), (w, w.width(), w.sizeHint().width())
    assert toolbar.colour.geometry().right() <= toolbar.controls.width()
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=2000)
    qtbot.wait(20)
    # beside the controls the hint was elided to "click: …"
    assert QLabel.text(toolbar.hint) == toolbar.hint.text() and "drag: strip" in toolbar.hint.text()
