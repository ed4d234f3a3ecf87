"""The status bar's Cancel: an open or a t-SNE fit it stops says so, the progress bar and the button go away,
and what was on screen stays (before, the bar and the button stayed up for good after a Cancel, and the map
box kept saying t-SNE over the PCA map)."""
from __future__ import annotations

import numpy as np

from tests.editor_helpers import open_and_wait


def _status_shown(window) -> bool:
    return any(w.isVisible() for w in (window.progress, window.progress_label, window.cancel_button))


def test_cancel_stops_an_open_and_the_status_bar_says_nothing_more(qtbot, window, digits_vae_path):
    window.open_path(str(digits_vae_path))
    assert window.cancel_button.isVisible()
    window.cancel_button.click()
    qtbot.waitUntil(lambda: not _status_shown(window), timeout=30_000)   # once the job has stopped
    assert window.state.loaded is None and window.errors == []
    assert "No model open" in window.map.plot.titleLabel.text
    open_and_wait(qtbot, window, digits_vae_path)           # a later open still works
    assert not _status_shown(window)


def test_cancel_stops_a_tsne_fit_and_the_pca_map_stays(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    pca = loaded.embedding.copy()
    with qtbot.waitSignal(window.controller.projection_started, timeout=5000):
        window.request_projection("tsne", max_iter=20_000)   # minutes: only a Cancel ends it in time
    assert window.map_toolbar.method.currentData() == "tsne" and window.cancel_button.isVisible()
    window.cancel_button.click()
    qtbot.waitUntil(lambda: not _status_shown(window), timeout=30_000)   # once the fit's process has stopped
    assert not window.controller.projection_running and window.errors == []
    assert window.map_toolbar.method.currentData() == "pca"   # the box says what the map shows
    assert loaded.projection.method == "pca" and np.array_equal(window.map._embedding, pca)
