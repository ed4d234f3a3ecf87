"""The Attributes panel in the real window: vectors from labels and from map selections, sliders that
edit the image live, the strip, orthogonalising, files and checkpoints. Every image is compared with a
decode of the expected latent by a separately loaded copy of the checkpoint."""
from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QScrollArea

from latent_atlas.editor.core import attributes as attrs
from latent_atlas.editor.core.lasso import points_in_polygon
from latent_atlas.editor.panels.attribute_panel import STRIP_ALPHAS, AttributePanel
from latent_atlas.editor.panels.interpolation_panel import InterpolationPanel
from tests.editor_helpers import open_and_wait, real_drag_path
from tests.panel_helpers import decode_reference, shown, tool


@pytest.fixture
def opened(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    window.controller.select_data_point(11)
    panel = tool(window, AttributePanel)
    window.tools.setCurrentWidget(panel)
    shown(qtbot, window, decode_reference(digits_vae_path, loaded.latents[11]))
    return window, panel, loaded


def test_the_panel_lists_each_class_of_the_data(opened):
    _, panel, _ = opened
    items = [panel.candidates.itemText(i) for i in range(panel.candidates.count())]
    assert items[0].startswith("0 vs rest") and len(items) == 10
    assert panel.empty_label.isVisibleTo(panel)


def test_a_slider_edits_the_image_live(qtbot, opened, digits_vae_path):
    window, panel, loaded = opened
    before = window.decoded_view.image.copy()
    panel.candidates.setCurrentIndex(0)
    panel.add_button.click()
    q = attrs.vector_from_mask(loaded.latents, loaded.labels == 0)
    assert np.array_equal(window.state.edits[0].vector, q) and list(panel.rows) == ["0"]
    panel.rows["0"].slider.setValue(30)                    # 1.5
    assert panel.rows["0"].spin.value() == 1.5 and window.state.edits[0].weight == 1.5
    edited = shown(qtbot, window, decode_reference(digits_vae_path, loaded.latents[11] + np.float32(1.5) * q))
    assert not np.array_equal(edited, before)
    panel.rows["0"].spin.setValue(-3.0)                    # the number box drives the same weight
    assert panel.rows["0"].slider.value() == -60
    shown(qtbot, window, decode_reference(digits_vae_path, loaded.latents[11] + np.float32(-3.0) * q))


def test_several_vectors_add_up_and_removing_one_takes_it_away(qtbot, opened, digits_vae_path):
    window, panel, loaded = opened
    base = loaded.latents[11]
    a, b = panel.add_candidate("3"), panel.add_candidate("9")
    panel.set_weight(a, 0.8)
    panel.set_weight(b, -1.1)
    va, vb = (e.vector for e in window.state.edits)
    shown(qtbot, window, decode_reference(digits_vae_path, base + np.float32(0.8) * va + np.float32(-1.1) * vb))
    panel.rows[a].remove.click()
    assert list(panel.rows) == [b]
    shown(qtbot, window, decode_reference(digits_vae_path, base + np.float32(-1.1) * vb))


def test_the_strip_shows_the_vector_from_minus_two_to_plus_two(qtbot, opened, digits_vae_path):
    window, panel, loaded = opened
    name = panel.add_candidate("0")
    qtbot.waitUntil(lambda: panel.strip.images is not None, timeout=10_000)
    z = attrs.latents_with_weight(loaded.latents[11], window.state.edits, name, STRIP_ALPHAS)
    expected = decode_reference(digits_vae_path, z)
    qtbot.waitUntil(lambda: np.array_equal(panel.strip.images, expected), timeout=10_000)
    assert len(np.unique(expected.reshape(len(expected), -1), axis=0)) > 1   # the frames differ
    # a real click on the last frame uses its weight, +2
    _, h, w, _ = expected.shape
    scene = panel.strip.view.mapViewToScene(QPointF(8 * (w + 1) + w / 2, h / 2))
    QTest.mouseClick(panel.strip.graphics.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     panel.strip.graphics.mapFromScene(scene))
    assert window.state.edits[0].weight == STRIP_ALPHAS[8] == 2.0
    image = shown(qtbot, window, decode_reference(digits_vae_path, z[8]))
    assert np.abs(image.astype(int) - expected[8]).max() <= 1   # the strip frame is that image (batched decode)


def test_orthogonalise_makes_the_picked_vector_independent_of_the_others(qtbot, opened, digits_vae_path):
    window, panel, loaded = opened
    for name in ("0", "6", "9"):
        panel.add_candidate(name)
    panel.select_vector("0")
    assert abs(panel.cosines.values[0, 1]) > 0.05 or abs(panel.cosines.values[0, 2]) > 0.05
    panel.orth_button.click()
    assert np.abs(panel.cosines.values[0, 1:]).max() < 1e-4
    assert panel.cosines.item(0, 1).text() in ("+0.00", "-0.00")
    panel.set_weight("0", 2.0)
    shown(qtbot, window, decode_reference(digits_vae_path, loaded.latents[11] + np.float32(2.0)
                                          * window.state.edits[0].vector))


def lasso_rectangle(window, x0, y0, x1, y1):
    """A real left drag round the rectangle's outline, ending short of where it began, in 10 moves a side: with
    4, a move merged with the next cut a corner often enough to fail 5 of 6 repeats in one process."""
    real_drag_path(window, [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0 + 0.02 * (y1 - y0))], steps=10)


def rectangle_members(emb, x0, y0, x1, y1, slack):
    """The points surely inside the rectangle, and those that may be (the mouse rounds to pixels)."""
    def inside(s):
        return ((emb[:, 0] > x0 + s) & (emb[:, 0] < x1 - s) & (emb[:, 1] > y0 + s) & (emb[:, 1] < y1 - s))
    return set(np.flatnonzero(inside(slack))), set(np.flatnonzero(inside(-slack)))


def assert_lasso_is_the_drawn_rectangle(picker, emb, box, slack, group):
    """The recorded outline spans the rectangle the mouse drew (to three pixels), the group is exactly the
    points inside that outline, and never a point outside the rectangle. (Not "every point three pixels inside":
    on a loaded machine a corner's move event can arrive merged with the next, and the outline then cuts that
    corner by a few pixels, as a real hand's would.)"""
    poly = picker.selection.polygon()
    np.testing.assert_allclose(poly.min(0), box[:2], atol=slack)
    np.testing.assert_allclose(poly.max(0), box[2:], atol=slack)
    assert group == set(np.flatnonzero(points_in_polygon(emb, poly)).tolist())
    sure, maybe = rectangle_members(emb, *box, slack)
    assert group <= maybe and len(group) >= 0.9 * len(sure)


def test_groups_lassoed_on_the_map_make_a_vector(qtbot, opened):
    window, panel, loaded = opened
    picker, emb, interp = panel.picker, loaded.embedding, tool(window, InterpolationPanel)
    panel.resize(900, 400)
    qtbot.wait(100)                                  # the layout settles before pixel sizes are read
    picker.lasso_button.click()
    assert window.map.view.lasso_armed and "drag: lasso" in window.map_toolbar.hint.text()
    (lo_x, lo_y), (hi_x, hi_y) = emb.min(0), emb.max(0)
    px_x, px_y = window.map.view.viewPixelSize()                               # map units per pixel
    slack = 3 * max(px_x, px_y)                                                # three pixels in map units
    mx, my = 0.02 * (hi_x - lo_x), 0.02 * (hi_y - lo_y)                      # inside the view's padding
    a_box = (lo_x - mx, lo_y - my, np.quantile(emb[:, 0], 0.3), np.quantile(emb[:, 1], 0.6))
    lasso_rectangle(window, *a_box)
    assert len(picker.selection.polygon()) >= 4
    assert picker.group_from_selection("A") > 10
    group_a = set(picker.groups["A"].tolist())
    assert_lasso_is_the_drawn_rectangle(picker, emb, a_box, slack, group_a)
    b_box = (np.quantile(emb[:, 0], 0.5), lo_y - my, np.quantile(emb[:, 0], 0.65), np.quantile(emb[:, 1], 0.7))
    lasso_rectangle(window, *b_box)
    assert picker.group_from_selection("B") == len(picker.groups["B"]) > 10
    assert_lasso_is_the_drawn_rectangle(picker, emb, b_box, slack, set(picker.groups["B"].tolist()))
    assert picker.counts.text() == f"A: {len(group_a):,} points · B: {len(picker.groups['B']):,} points"
    assert len(picker.selection.rings["A"].data) == len(group_a)               # both groups are ringed
    assert interp.waypoints.points == []                                       # a lasso is not a strip
    picker.vector_button.click()
    vector = window.state.edits[-1].vector
    np.testing.assert_allclose(vector, loaded.latents[picker.groups["A"]].mean(0)
                               - loaded.latents[picker.groups["B"]].mean(0), atol=1e-6)
    picker.lasso_button.click()                                                # disarmed: drags draw strips
    assert not window.map.view.lasso_armed and "drag: strip" in window.map_toolbar.hint.text()
    real_drag_path(window, [emb[0], emb[1]])
    assert len(interp.waypoints) == 2


def test_group_b_can_be_the_rest_of_the_data(opened):
    window, panel, loaded = opened
    picker = panel.picker
    picker.set_group("A", np.flatnonzero(loaded.labels == 3))
    assert picker.group_b_from_rest() == len(loaded.latents) - (loaded.labels == 3).sum()
    picker.vector_button.click()
    np.testing.assert_allclose(window.state.edits[-1].vector,
                               attrs.vector_from_mask(loaded.latents, loaded.labels == 3), atol=1e-6)


def test_a_new_projection_drops_the_lasso_and_moves_the_rings(qtbot, opened):
    window, panel, _ = opened
    picker = panel.picker
    picker.selection.set_polygon([(-100, -100), (100, -100), (100, 100), (-100, 100)])
    picker.set_group("A", [0, 1, 2])
    with qtbot.waitSignal(window.controller.projection_ready, timeout=60_000):
        window.request_projection("pca", components=(1, 2))
    assert len(picker.selection.polygon()) == 0
    x, y = picker.selection.rings["A"].getData()
    np.testing.assert_allclose(np.stack([x, y], 1), window.state.loaded.embedding[[0, 1, 2]], rtol=1e-5)


def test_a_vector_from_an_empty_group_is_refused_with_a_message(opened):
    window, panel, _ = opened
    panel.picker.vector_button.click()
    assert window.state.edits == [] and "both groups need at least one point" in window.errors[-1]


def test_vectors_saved_to_a_file_load_back(qtbot, opened, tmp_path):
    window, panel, _ = opened
    panel.add_candidate("2")
    panel.add_candidate("5")
    saved = [(e.name, e.vector.copy()) for e in window.state.edits]
    assert panel.save_vectors(str(tmp_path / "v.json"))
    panel.remove_vector("2")
    panel.remove_vector("5")
    assert panel.load_vectors(str(tmp_path / "v.json")) == ["2", "5"]
    assert all(e.name == n and np.array_equal(e.vector, v) for e, (n, v) in zip(window.state.edits, saved))
    assert sorted(panel.rows) == ["2", "5"]


def test_a_vector_file_for_another_latent_size_is_refused(opened, tmp_path):
    window, panel, _ = opened
    bad = tmp_path / "other_model.json"
    bad.write_text(json.dumps({"format": attrs.VECTORS_FORMAT, "latent_dim": 16,
                               "vectors": [{"name": "v", "vector": [0.0] * 16}]}))
    assert panel.load_vectors(str(bad)) == []
    assert str(bad) in window.errors[-1] and "16 dimensions" in window.errors[-1]
    assert window.state.edits == [] and panel.rows == {}


def test_vectors_saved_into_a_checkpoint_are_listed_when_it_opens(qtbot, window, digits_vae_path, tmp_path):
    path = shutil.copy(digits_vae_path, tmp_path / "with_vectors.safetensors")
    open_and_wait(qtbot, window, path)
    panel = tool(window, AttributePanel)
    panel.add_candidate("4")
    panel.set_weight("4", 1.0)
    assert panel.save_into_checkpoint(confirm=False)
    window.state.edits = []                    # as if the editor started afresh
    open_and_wait(qtbot, window, digits_vae_path)
    assert panel.rows == {}
    open_and_wait(qtbot, window, path)
    assert list(panel.rows) == ["4"] and window.state.edits[0].weight == 0.0
    assert "4 vs rest" in window.state.edits[0].description


def test_the_list_scrolls_to_a_vector_just_added(qtbot, opened):
    """Xvfb walk: on the bundled Fashion VAE (ten vectors) "Add as vector" appended PC1 below the three
    rows the list shows, and nothing on screen changed."""
    _, panel, _ = opened
    for i in range(10):
        panel.add_candidate(i % len(panel._candidate_list))
    name = panel.selected
    row, viewport = panel.rows[name], panel.rows_scroll.viewport()
    qtbot.waitUntil(lambda: panel.rows_scroll.verticalScrollBar().maximum() > 0, timeout=2000)  # longer than shown

    def whole_row_in_view():
        top = row.mapTo(viewport, row.rect().topLeft()).y()
        assert 0 <= top and top + row.height() <= viewport.height(), (top, row.height(), viewport.height())

    qtbot.waitUntil(whole_row_in_view, timeout=2000)


@pytest.mark.parametrize("size", [(1280, 800), (1100, 700)])
def test_setting_a_group_leaves_the_attributes_page_as_wide_as_the_tab(qtbot, opened, size):
    """Xvfb walk at 1280x800: "A ← lasso (1312)" widened the groups row, the page scrolled sideways and "Add
    vector", "Add A − B", "Keep checked" and the strip's right end were cut off; at 1100x700 the five group
    buttons in one row were 491 px in a 446 px page and it scrolled sideways before any group was set."""
    window, panel, loaded = opened
    window.resize(*size)
    qtbot.waitUntil(lambda: window.width() == size[0], timeout=2000)
    qtbot.wait(50)
    page = panel.findChild(QScrollArea)
    bar = page.horizontalScrollBar()
    assert bar.maximum() == 0
    width = panel.picker.width()
    n = len(loaded.latents) // 3
    panel.picker.set_group("A", np.arange(n))
    panel.picker.group_b_from_rest()
    qtbot.wait(50)
    assert bar.maximum() == 0 and panel.picker.width() == width
    assert panel.picker.counts.text() == f"A: {n:,} points · B: {len(loaded.latents) - n:,} points"
    picker = panel.picker
    rows = [[picker.lasso_button, *picker.group_buttons.values()], [picker.rest_button, picker.vector_button]]
    gaps = [b.x() - a.geometry().right() - 1 for row in rows for a, b in itertools.pairwise(row)]
    assert min(gaps) >= 4, gaps            # the buttons keep the style's spacing, not the counts line's 2 px
    assert picker.rest_button.x() == picker.lasso_button.x()        # the second row under the first
    assert picker.counts.x() > picker.vector_button.geometry().right()


def test_a_long_vector_name_does_not_widen_the_page(qtbot, opened):
    """The line over the picked vector's strip said its whole name; a long name ("Ankle boot (mean
    difference) orthogonalised…") made the page wider than the tab, which then scrolled sideways."""
    from PySide6.QtWidgets import QLabel

    window, panel, loaded = opened
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=2000)
    bar = panel.findChild(QScrollArea).horizontalScrollBar()
    name = "T-shirt/top (mean difference), orthogonalised against Trouser, Pullover, Dress and Coat"
    panel.add_vector(name, loaded.latents[0] - loaded.latents[1])
    qtbot.waitUntil(lambda: name in panel.strip_label.text(), timeout=5000)
    qtbot.wait(50)
    assert bar.maximum() == 0
    drawn = QLabel.text(panel.strip_label)
    assert panel.strip_label.fontMetrics().horizontalAdvance(drawn) <= panel.strip_label.width()
    assert name in panel.strip_label.toolTip()


def test_a_vector_name_too_long_for_its_row_is_elided_not_cut(qtbot, opened):
    """Xvfb walk at 1100x700: "Ankle boot (mean differ" was cut mid-letter where the slider began."""
    from PySide6.QtWidgets import QStyle

    window, panel, loaded = opened
    window.resize(1100, 700)
    qtbot.waitUntil(lambda: window.width() == 1100, timeout=2000)
    name = "Ankle boot (mean difference), orthogonalised"
    panel.add_vector(name, loaded.latents[0] - loaded.latents[1])
    pick = panel.rows[name].pick
    style = pick.style()
    room = pick.width() - style.pixelMetric(QStyle.PixelMetric.PM_ExclusiveIndicatorWidth) \
        - style.pixelMetric(QStyle.PixelMetric.PM_RadioButtonLabelSpacing)

    def elided_to_fit():
        text = pick.text()
        assert text.endswith("…") and name.startswith(text[:-1]), text
        assert pick.fontMetrics().horizontalAdvance(text) <= room
    qtbot.waitUntil(elided_to_fit, timeout=3000)
    narrow = pick.text()
    window.resize(1600, 1000)                      # more room: more of the name comes back
    qtbot.waitUntil(lambda: len(pick.text()) > len(narrow) and name.startswith(pick.text().rstrip("…")),
                    timeout=3000)


def test_every_row_s_slider_starts_at_the_same_x(qtbot, opened):
    """Each row sized its name to its text, so the sliders' left ends zigzagged down the list."""
    _, panel, loaded = opened
    for name in ("a", "a much longer name for a vector", "mid-length name"):
        panel.add_vector(name, loaded.latents[0] - loaded.latents[2])
    qtbot.wait(50)
    starts = {row.slider.mapTo(panel, row.slider.rect().topLeft()).x() for row in panel.rows.values()}
    assert len(starts) == 1, starts


def test_the_keep_check_boxes_stand_in_columns(qtbot, opened):
    """Xvfb walk at 1600x1000: the wrapped check boxes had each their own width, in ragged columns."""
    window, panel, loaded = opened
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: window.width() == 1600, timeout=2000)
    for name in ("Ankle boot (mean difference)", "Bag (mean difference)", "Coat (mean difference)",
                 "Dress (mean difference)", "Pullover (mean difference)", "Sandal (mean difference)", "picked"):
        panel.add_vector(name, loaded.latents[0] - loaded.latents[len(name)])
    keep = panel.picked_box.keep_list
    qtbot.wait(50)
    rects = [keep.visualItemRect(keep.item(i)) for i in range(keep.count())]
    rows = sorted({r.y() for r in rects})
    assert len(rows) >= 2, "the test needs the list to wrap"
    columns = [[r.x() for r in rects if r.y() == y] for y in rows]
    assert all(row == columns[0][:len(row)] for row in columns), columns
    for i, r in enumerate(rects):                  # and each cell holds its whole text
        assert keep.fontMetrics().horizontalAdvance(keep.item(i).text()) < r.width()


def test_a_returning_model_shows_its_picked_vector(qtbot, opened, digits_cvae_path, digits_vae_path):
    """Xvfb walk: back on the Fashion VAE the list stood at its top, its picked vector (A − B, the last)
    out of sight."""
    window, panel, _ = opened
    for i in range(10):
        panel.add_candidate(i % len(panel._candidate_list))
    picked = panel.selected
    open_and_wait(qtbot, window, digits_cvae_path)
    open_and_wait(qtbot, window, digits_vae_path)
    assert panel.selected == picked
    row, viewport = panel.rows[picked], panel.rows_scroll.viewport()

    def in_view():
        top = row.mapTo(viewport, row.rect().topLeft()).y()
        assert 0 <= top and top + row.height() <= viewport.height(), (top, viewport.height())
    qtbot.waitUntil(in_view, timeout=3000)
