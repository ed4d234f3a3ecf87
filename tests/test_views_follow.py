"""Nothing stale on screen: the Original view shows the data point the image is, or says there is none; the
hover thumbnail goes when the pointer leaves the map or another model opens, and never sits under the cursor."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect
from PySide6.QtWidgets import QApplication

from latent_atlas.models.data import load_dataset
from tests.editor_helpers import empty_spot, open_and_wait
from tests.test_own_image import write_png


def test_the_original_view_follows_what_the_image_is(qtbot, window, digits_vae_path, tmp_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    view = window.original_view
    window.controller.select_data_point(3)
    assert np.array_equal(view.image, loaded.images[3]) and view.title.text() == "Original (data point)"
    window.controller.click(*empty_spot(loaded, window))           # empty space: no data point there
    assert view.image is None and "not a data point" in view.caption.text()
    window.controller.select_data_point(4)
    assert np.array_equal(view.image, loaded.images[4])
    window.controller.set_latent(np.zeros(4, np.float32), "sample")    # a prior sample
    assert view.image is None and "not a data point" in view.caption.text()
    path = write_png(tmp_path / "mine.png", load_dataset("digits").images[7][0])
    window.own_image.open(str(path))
    qtbot.waitUntil(lambda: window.state.current.source == "image", timeout=10_000)
    assert view.title.text() == "Your image" and view.image is not None and "mine.png" in view.caption.text()
    window.controller.select_data_point(5)
    assert view.title.text() == "Original (data point)" and np.array_equal(view.image, loaded.images[5])


def _hover(window, x, y):
    scene = window.map.view.mapViewToScene(QPointF(x, y))
    window.map._on_scene_mouse_moved((scene,))


def test_the_hover_thumbnail_leaves_with_the_pointer_and_the_model(qtbot, window, digits_vae_path,
                                                                   digits_gan_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    thumb = window.map.thumbnail
    _hover(window, *loaded.embedding[0])
    assert thumb.isVisible()
    QApplication.sendEvent(window.map.plot_widget.viewport(), QEvent(QEvent.Type.Leave))   # the pointer leaves
    assert not thumb.isVisible()
    _hover(window, *loaded.embedding[0])
    assert thumb.isVisible()
    open_and_wait(qtbot, window, digits_gan_path)
    assert not thumb.isVisible()


def test_the_hover_thumbnail_is_never_under_the_cursor(qtbot, window, digits_vae_path):
    open_and_wait(qtbot, window, digits_vae_path)
    thumb, rect = window.map.thumbnail, window.map.view.sceneBoundingRect()
    for fx, fy in ((0.99, 0.99), (0.99, 0.01), (0.01, 0.99), (0.01, 0.01), (0.5, 0.5)):
        scene = QPointF(rect.left() + fx * rect.width(), rect.top() + fy * rect.height())
        window.map.show_thumbnail(0, scene)        # the pointer there, near a data point
        assert thumb.isVisible()
        cursor = window.map.plot_widget.mapFromScene(scene)
        near = QRect(cursor - QPoint(6, 6), cursor + QPoint(6, 6))
        assert not thumb.geometry().intersects(near), (fx, fy, thumb.geometry(), cursor)
        assert window.map.plot_widget.rect().contains(thumb.geometry())


def test_umap_without_umap_learn_is_offered_disabled_and_a_failed_projection_puts_the_box_back(
        qtbot, window, digits_vae_path, monkeypatch):
    import importlib.util

    loaded = open_and_wait(qtbot, window, digits_vae_path)
    box = window.map_toolbar.method
    if importlib.util.find_spec("umap") is None:
        item = box.model().item(box.findData("umap"))
        assert not item.isEnabled() and "pip install" in box.itemData(box.findData("umap"), 3)   # ToolTipRole
        umap_action = next(a for a in window.menuBar().findChildren(type(window.open_action))
                           if a.text() == "Projection: UMAP")
        assert not umap_action.isEnabled()
    from latent_atlas.models.latent import projection
    monkeypatch.setattr(projection, "make_projection", lambda *a, **k: (_ for _ in ()).throw(
        projection.ProjectionError("no such projection here")))
    with qtbot.waitSignal(window.controller.projection_failed, timeout=10_000):
        window.request_projection("tsne")
    assert box.currentData() == loaded.projection.method == "pca"      # the box says what the map shows


def test_the_map_says_t_sne_and_choosing_the_shown_method_again_does_not_refit(qtbot, window, digits_vae_path):
    open_and_wait(qtbot, window, digits_vae_path)
    with qtbot.waitSignal(window.controller.projection_ready, timeout=120_000):
        window.request_projection("tsne")
    assert window.map.plot.titleLabel.text.startswith("t-SNE of")
    started = []
    window.controller.projection_started.connect(started.append)
    window.map_toolbar.method.setCurrentIndex(window.map_toolbar.method.findData("tsne"))
    window.map_toolbar.method.activated.emit(window.map_toolbar.method.currentIndex())
    window.request_projection("tsne")
    assert started == [] and window.state.loaded.projection.method == "tsne"
