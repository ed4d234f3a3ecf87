"""A layout that holds still: status lines have their space reserved and stay one line (elided, the whole text in
a tooltip), so the tabs and the images never move when a warning comes and goes; captions never overlap images;
the window never resizes itself."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect

from latent_atlas.editor.widgets.plain_text import PlainLabel
from tests.editor_helpers import open_and_wait

LONG = ("⚠ leaves the data: the latent is 4.74 from the nearest data latent, farther than 99% of the data are "
        "from theirs; expect an unlike image here, and more text than any column is wide")


def _rect(window, widget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _geometry(window):
    return (_rect(window, window.tools.tabBar()), _rect(window, window.decoded_view.graphics),
            _rect(window, window.original_view.graphics))


def test_the_off_data_line_never_moves_the_tabs_or_the_images(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    label = window.density_label
    qtbot.waitUntil(lambda: label.density is not None, timeout=10_000)
    assert not label.warning.isVisible()
    before = _geometry(window)
    window.controller.set_latent(loaded.latents[0] * 10, "sample")
    qtbot.waitUntil(lambda: label.warning.isVisible(), timeout=10_000)
    label.warning.setText(LONG)                   # longer than the column: elided on one line
    window.info.setText(LONG)
    qtbot.wait(20)
    assert _geometry(window) == before
    for line in (label.warning, window.info):
        assert line.text() == LONG and line.height() < 2 * line.fontMetrics().height()
        assert "unlike image" in line.toolTip()   # the whole text, as the elided line cannot show it
    window.controller.select_data_point(0)
    qtbot.waitUntil(lambda: not label.warning.isVisible(), timeout=10_000)
    assert _geometry(window) == before


def test_captions_sit_below_their_images_and_the_window_keeps_its_size(qtbot, window, digits_vae_path,
                                                                        digits_cvae_path):
    size = window.size()
    open_and_wait(qtbot, window, digits_vae_path)
    window.decoded_view.caption.setText(LONG)
    window.original_view.caption.setText(LONG)
    open_and_wait(qtbot, window, digits_cvae_path)
    qtbot.wait(20)
    assert window.size() == size
    for view in (window.decoded_view, window.original_view):
        image, caption = _rect(window, view.graphics), _rect(window, view.caption)
        assert caption.top() >= image.bottom() and not caption.intersects(image)
        assert caption.height() < 2 * view.caption.fontMetrics().height()


def test_a_long_status_line_does_not_widen_the_window(qtbot, window):
    size = window.size()
    for line in (window.info, window.density_label.numbers, window.decoded_view.caption):
        assert isinstance(line, PlainLabel)
        line.setText(LONG * 4)
    qtbot.wait(20)
    assert window.size() == size and window.minimumSizeHint().width() <= size.width()


def test_the_window_keeps_its_size_through_loading_every_tab_and_a_finished_run(qtbot, window, digits_vae_path,
                                                                                 digits_gan_path):
    from latent_atlas.editor.training.training_panel import TrainingPanel
    from tests.panel_helpers import tool

    window.resize(1280, 800)                      # the size the editor opens at
    qtbot.wait(20)
    assert window.size().width() == 1280 and window.size().height() == 800
    for path in (digits_vae_path, digits_gan_path):
        open_and_wait(qtbot, window, path)
        for i in range(window.tools.count()):
            window.tools.setCurrentIndex(i)
            qtbot.wait(5)
            assert (window.width(), window.height()) == (1280, 800), window.tools.tabText(i)
    training = tool(window, TrainingPanel)
    training.stats.setText("Finished · step 6,000 / 6,000 · 12,345 images/s · elapsed 0:04:10 · ETA 0:00:00 · "
                           "saved /a/long/folder/name/of/the/run/checkpoint_final.safetensors")
    qtbot.wait(20)
    assert (window.width(), window.height()) == (1280, 800)
