"""Helpers for driving the real window under the offscreen platform."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest


def open_and_wait(qtbot, window, path, timeout=60_000):
    with qtbot.waitSignal(window.controller.model_loaded, timeout=timeout):
        window.open_path(str(path))
    qtbot.waitUntil(lambda: window.decoded_view.image is not None, timeout=timeout)
    return window.state.loaded


def view_to_widget(window, x: float, y: float):
    """Map coordinates -> a pixel position in the plot widget's viewport."""
    scene = window.map.view.mapViewToScene(QPointF(x, y))
    return window.map.plot_widget.mapFromScene(scene)


def click_map(qtbot, window, x: float, y: float):
    """A real mouse press and release on the map at map coordinates (x, y)."""
    pos = view_to_widget(window, x, y)
    QTest.mouseClick(window.map.plot_widget.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     pos)


def empty_spot(loaded, window):
    """A map point well away from every data point, inside the view and left of the legend
    (which sits top right and takes the clicks it covers)."""
    emb = loaded.embedding
    lo, hi = emb.min(0), emb.max(0)
    hi = lo + (hi - lo) * np.array([0.7, 1.0])
    rng = np.random.default_rng(0)
    best, best_d = None, -1.0
    for p in lo + rng.random((400, 2)) * (hi - lo):
        d = np.min(((emb - p) ** 2).sum(1))
        if d > best_d:
            best, best_d = p, d
    return float(best[0]), float(best[1])


def real_drag_path(window, points, steps: int = 4) -> None:
    """A left drag through the map points (P, 2) in view coordinates: press at the first, move in
    `steps` steps along each segment, release at the last, as a user's hand does."""
    viewport = window.map.plot_widget.viewport()
    pts = [view_to_widget(window, *p) for p in points]
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
    for a, b in zip(pts, pts[1:]):
        for t in np.linspace(0, 1, steps + 1)[1:]:
            QTest.mouseMove(viewport, QPoint(round(a.x() + t * (b.x() - a.x())), round(a.y() + t * (b.y() - a.y()))))
            QTest.qWait(2)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])


def gan_sample_and_spread(model, seed: int):
    """A GAN's own sample (H, W, C) uint8 to invert, and the median mean-square distance of 16 other samples
    to it (what 'near' is measured against)."""
    import torch

    from latent_atlas.editor.core.image_convert import images_to_hwc_uint8

    g = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        target = images_to_hwc_uint8(model.decode(torch.randn(1, model.latent_dim, generator=g)))[0]
        others = images_to_hwc_uint8(model.decode(torch.randn(16, model.latent_dim, generator=g)))
    return target, float(np.median([np.mean((o / 255.0 - target / 255.0) ** 2) for o in others]))
