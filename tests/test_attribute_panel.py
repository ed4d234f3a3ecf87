"""The Attributes panel in the real window: vectors from labels and from map selections, sliders that
edit the image live, the strip, orthogonalising, files and checkpoints. Every image is compared with a
decode of the expected latent by a separately loaded copy of the checkpoint."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from editor.attribute_panel import STRIP_ALPHAS, AttributePanel
from editor.core import attributes as attrs
from tests.editor_helpers import open_and_wait
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


def test_groups_from_a_box_on_the_map_make_a_vector(qtbot, opened):
    window, panel, loaded = opened
    emb = loaded.embedding
    panel.box_button.click()
    x0, x1 = np.quantile(emb[:, 0], [0.0, 0.3])
    panel.selection.set_box(x0 - 1, emb[:, 1].min() - 1, x1, emb[:, 1].max() + 1)
    group_a = np.flatnonzero(emb[:, 0] <= x1)
    assert panel.group_from_selection("A") == len(group_a) > 10
    panel.selection.set_box(np.quantile(emb[:, 0], 0.7), emb[:, 1].min() - 1, emb[:, 0].max() + 1,
                            emb[:, 1].max() + 1)
    group_b = np.flatnonzero(emb[:, 0] >= np.quantile(emb[:, 0], 0.7))
    assert panel.group_from_selection("B") == len(group_b)
    assert panel.group_buttons["B"].text() == f"B ← box ({len(group_b)})"
    panel.group_vector_button.click()
    vector = window.state.edits[-1].vector
    np.testing.assert_allclose(vector, loaded.latents[group_a].mean(0) - loaded.latents[group_b].mean(0),
                               atol=1e-6)


def test_a_vector_from_an_empty_group_is_refused_with_a_message(opened):
    window, panel, _ = opened
    panel.group_vector_button.click()
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
