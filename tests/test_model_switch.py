"""What is made on one model stays with it: vectors, lasso groups and the strip are put away when another
model opens (from the Model list or from Training > Open in editor) and come back when it returns; nothing of
one model is ever applied to another. Both digits models have 4-d latents, so a leak cannot hide behind a
size check."""
from __future__ import annotations

import numpy as np

from latent_atlas.editor.panels.attribute_panel import AttributePanel
from latent_atlas.editor.panels.interpolation_panel import InterpolationPanel
from latent_atlas.editor.training.training_panel import TrainingPanel
from tests.editor_helpers import click_map, open_and_wait
from tests.panel_helpers import decode_reference, shown, tool


def _work_on_vae(qtbot, window, path):
    loaded = open_and_wait(qtbot, window, path)
    attributes, interp = tool(window, AttributePanel), tool(window, InterpolationPanel)
    window.controller.select_data_point(7)
    name = attributes.add_candidate("3")
    attributes.set_weight(name, 1.5)
    attributes.picker.set_group("A", [1, 2, 3])
    attributes.picker.set_group("B", [4, 5])
    window.tools.setCurrentWidget(interp)
    window.controller.select_data_point(20)
    interp.set_a_button.click()
    window.controller.select_data_point(30)
    interp.set_b_button.click()
    qtbot.waitUntil(lambda: interp.images is not None, timeout=10_000)
    return loaded, attributes, interp


def test_vectors_groups_and_strip_stay_with_their_model(qtbot, window, digits_vae_path, digits_cvae_path):
    vae, attributes, interp = _work_on_vae(qtbot, window, digits_vae_path)
    vector = window.state.edits[0].vector.copy()
    strip = [z.copy() for z in interp.waypoints.points]
    picker = attributes.picker

    cvae = open_and_wait(qtbot, window, digits_cvae_path)
    assert window.state.edits == [] and attributes.rows == {}
    assert not attributes.cosines.isVisibleTo(attributes)
    assert len(picker.groups["A"]) == 0 and len(picker.groups["B"]) == 0
    assert picker.counts.text().startswith("no groups yet")
    assert len(picker.selection.rings["A"].data) == 0
    assert interp.waypoints.points == [] and interp.images is None
    # the CVAE's first image is its own data point, with no VAE vector added to it
    z = cvae.latents[cvae.start_index]
    shown(qtbot, window, decode_reference(digits_cvae_path, z, window.state.condition))
    np.testing.assert_array_equal(window.state.latent(), z)

    open_and_wait(qtbot, window, digits_vae_path)
    assert [(e.name, e.weight) for e in window.state.edits] == [("3", 1.5)]
    np.testing.assert_array_equal(window.state.edits[0].vector, vector)
    assert list(attributes.rows) == ["3"] and attributes.rows["3"].spin.value() == 1.5
    assert picker.groups["A"].tolist() == [1, 2, 3] and picker.groups["B"].tolist() == [4, 5]
    assert picker.counts.text() == "A: 3 points · B: 2 points"
    assert len(picker.selection.rings["A"].data) == 3
    assert all(np.array_equal(a, b) for a, b in zip(interp.waypoints.points, strip)) and len(strip) == 2
    qtbot.waitUntil(lambda: interp.images is not None, timeout=10_000)
    # the returning model's first image carries its vector again
    z = vae.latents[vae.start_index] + np.float32(1.5) * vector
    shown(qtbot, window, decode_reference(digits_vae_path, z))


def test_training_open_in_editor_puts_the_old_models_vectors_away(qtbot, window, digits_vae_path,
                                                                   digits_cvae_path):
    _work_on_vae(qtbot, window, digits_vae_path)
    training = tool(window, TrainingPanel)
    training.last_checkpoint = str(digits_cvae_path)      # as if that run had just finished
    training.open_button.setEnabled(True)
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60_000):
        training.open_button.click()
    assert window.state.edits == [] and tool(window, AttributePanel).rows == {}
    assert tool(window, InterpolationPanel).waypoints.points == []


def test_a_projection_switch_moves_the_marker_to_the_current_latent(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    (x0, x1), (y0, y1) = window.map.view.viewRange()
    click_map(qtbot, window, x0 + 0.97 * (x1 - x0), y0 + 0.97 * (y1 - y0))    # empty space at the corner
    qtbot.waitUntil(lambda: window.state.current.data_index is None, timeout=5000)
    before = window.state.latent().copy()
    with qtbot.waitSignal(window.controller.projection_ready, timeout=60_000):
        window.request_projection("pca", components=(2, 3))
    point = window.state.current
    expected = loaded.projection.transform(point.base[None])[0]
    np.testing.assert_allclose(point.cursor, expected, atol=1e-5)
    np.testing.assert_allclose(window.map.cursor_position(), expected, atol=1e-5)
    np.testing.assert_array_equal(window.state.latent(), before)             # the image stays
    # the view frames the new map, not the old marker's place
    shown_points = np.vstack([loaded.embedding, expected[None]])
    lo, hi = shown_points.min(0), shown_points.max(0)
    (vx0, vx1), (vy0, vy1) = window.map.view.viewRange()
    assert vx1 - vx0 < 1.3 * (hi[0] - lo[0]) and vy1 - vy0 < 1.3 * (hi[1] - lo[1])
    i = int(np.argmax(loaded.embedding[:, 0]))                               # the next click works
    click_map(qtbot, window, *loaded.embedding[i])
    qtbot.waitUntil(lambda: window.state.current.data_index == i, timeout=5000)


def test_setting_a_lasso_group_keeps_the_view(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    picker = tool(window, AttributePanel).picker
    window.map.view.setRange(xRange=(-1.0, 1.0), yRange=(-1.0, 1.0), padding=0)   # the user zoomed in
    before = window.map.view.viewRange()
    picker.selection.set_polygon([(-0.9, -0.9), (0.9, -0.9), (0.9, 0.9), (-0.9, 0.9)])
    picker.group_from_selection("A")
    picker.set_group("B", np.arange(len(loaded.latents)))                     # rings far outside the view
    qtbot.wait(50)                                                             # the view updates lazily
    np.testing.assert_allclose(window.map.view.viewRange(), before, atol=1e-9)
