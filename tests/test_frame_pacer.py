"""Redraws paced to the display: the pacer itself, and the map's strip path during a drag."""
from __future__ import annotations

import time

import numpy as np

from latent_atlas.editor.core.strip import strip_latents
from latent_atlas.editor.widgets.frame_pacer import DEFAULT_HZ, MAX_HZ, MIN_HZ, FramePacer, display_hz
from tests.editor_helpers import empty_spot, open_and_wait
from tests.test_interpolation_panel import panel_of


def test_the_first_request_runs_at_once_and_a_burst_runs_once_more_with_the_newest(qtbot):
    seen, state = [], {"value": 0}
    pacer = FramePacer(lambda: seen.append(state["value"]), hz=20)         # a 50 ms frame
    pacer.request()
    assert seen == [0]                                  # no wait for the first
    for v in range(1, 6):                               # five more within the same frame
        state["value"] = v
        pacer.request()
    assert seen == [0] and pacer.pending()
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=1000)
    assert seen == [0, 5]                               # once, and with the newest state
    qtbot.wait(120)
    assert seen == [0, 5]                               # nothing more was asked


def test_requests_spaced_wider_than_a_frame_each_run_at_once(qtbot):
    seen = []
    pacer = FramePacer(lambda: seen.append(time.perf_counter()), hz=50)     # 20 ms
    for _ in range(3):
        pacer.request()
        assert not pacer.pending()
        qtbot.wait(40)
    assert len(seen) == 3


def test_flush_runs_a_pending_redraw_now_and_cancel_drops_it(qtbot):
    seen = []
    pacer = FramePacer(lambda: seen.append(1), hz=MIN_HZ)
    pacer.request()
    pacer.request()
    pacer.flush()
    assert seen == [1, 1] and not pacer.pending()
    pacer.request()
    pacer.cancel()
    qtbot.wait(int(2000 / MIN_HZ))
    assert seen == [1, 1]
    pacer.flush()                                       # nothing pending: nothing runs
    assert seen == [1, 1]


def test_display_rate_is_the_screens_within_bounds(qtbot):
    hz = display_hz()
    assert MIN_HZ <= hz <= MAX_HZ
    assert FramePacer(lambda: None).interval_s == 1 / hz
    assert DEFAULT_HZ == 60


def _moves(window, loaded, n: int) -> np.ndarray:
    """A drag's n moves from the leftmost data point to an empty spot, in map coordinates, started on the map's
    own signals (pyqtgraph passes at most 100 mouse moves a second to them: real moves sent in a loop would
    mostly be dropped before they reach the panel)."""
    start = loaded.embedding[int(np.argmin(loaded.embedding[:, 0]))]
    end = np.asarray(empty_spot(loaded, window), np.float64)
    window.map.view.drag_started.emit(*map(float, start))
    return start + np.linspace(0, 1, n + 1)[1:, None] * (end - start)


def test_a_fast_drag_draws_the_path_once_a_frame_and_ends_on_the_newest(qtbot, window, digits_vae_path, monkeypatch):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    panel = panel_of(window)
    drawn = []
    set_path = window.map.set_path
    monkeypatch.setattr(window.map, "set_path", lambda points, *a: (drawn.append(points), set_path(points, *a)))
    moves = _moves(window, loaded, 30)
    for x, y in moves:                   # no turn of the event loop between them: all within one frame
        window.map.view.dragged.emit(float(x), float(y))
    assert len(drawn) == 1 and panel._path_pacer.pending()     # the first at once, the rest wait for the frame
    window.map.view.drag_finished.emit(*map(float, moves[-1]))
    # the release draws where the drag ended, at once: the path through the newest strip's frames
    expected = loaded.projection.transform(strip_latents(panel.waypoints.points, panel.n_frames.value(),
                                                         panel.mode.currentText()))
    assert len(drawn) == 2 and not panel._path_pacer.pending()
    np.testing.assert_allclose(drawn[-1], expected, rtol=1e-5, atol=1e-5)
    xs, ys = window.map.path_item.getData()
    np.testing.assert_allclose(np.c_[xs, ys], expected, rtol=1e-5, atol=1e-5)


def test_clearing_the_strip_while_a_redraw_is_due_leaves_no_path(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    panel = panel_of(window)
    for x, y in _moves(window, loaded, 10):
        window.map.view.dragged.emit(float(x), float(y))
    assert panel._path_pacer.pending()            # the last moves wait for the next frame
    panel.clear_button.click()
    qtbot.wait(100)
    xs, _ = window.map.path_item.getData()
    assert xs is None or len(xs) == 0
