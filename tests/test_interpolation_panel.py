"""The interpolation strip driven through the real window: a mouse drag on the map, the buttons, exports."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.editor.core.strip import endpoint_latent, strip_latents
from latent_atlas.editor.panels.interpolation_panel import InterpolationPanel
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from tests.editor_helpers import empty_spot, open_and_wait, view_to_widget


@dataclass(frozen=True)
class _Hold:
    release: threading.Event
    id: int = 0


def hold_worker(monkeypatch, controller, release: threading.Event) -> None:
    """Keeps the decode worker busy until `release` is set, as a slow decode would (a request type of
    this test's own, handled by waiting)."""
    monkeypatch.setitem(controller.decoder._handlers, _Hold, lambda key, request: request.release.wait(10))
    controller.decoder.submit("test-hold", _Hold(release))


def panel_of(window) -> InterpolationPanel:
    for i in range(window.tools.count()):
        if isinstance(window.tools.widget(i), InterpolationPanel):
            window.tools.setCurrentIndex(i)
            return window.tools.widget(i)
    raise AssertionError("no interpolation panel in the window")

def strip_between_points(qtbot, window, a: int, b: int) -> InterpolationPanel:
    """The Interpolate panel with a strip from data point a to data point b, decoded."""
    panel = panel_of(window)
    window.controller.select_data_point(a)
    panel.set_a_button.click()
    window.controller.select_data_point(b)
    panel.set_b_button.click()
    qtbot.waitUntil(lambda: panel.images is not None, timeout=10_000)
    return panel



def decode(path, z: np.ndarray, c=None) -> np.ndarray:
    model = load_checkpoint(path).model.eval()
    with torch.inference_mode():
        return images_to_hwc_uint8(model.decode(torch.from_numpy(np.asarray(z, np.float32)).reshape(-1, z.shape[-1]),
                                                None if c is None else torch.from_numpy(c)))


def real_drag(qtbot, window, start, end, steps=8):
    """Press, move in steps well beyond the drag threshold, release: as a user's left drag."""
    viewport = window.map.plot_widget.viewport()
    a, b = view_to_widget(window, *start), view_to_widget(window, *end)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for t in np.linspace(0, 1, steps + 1)[1:]:
        p = QPoint(round(a.x() + t * (b.x() - a.x())), round(a.y() + t * (b.y() - a.y())))
        QTest.mouseMove(viewport, p)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def test_mouse_drag_from_a_data_point_shows_a_strip_ending_on_both_endpoints(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    panel = panel_of(window)
    i = int(np.argmin(loaded.embedding[:, 0]))              # the leftmost data point, alone at the edge
    ends = []
    window.map.view.drag_started.connect(lambda x, y: ends.append(("start", x, y)))
    window.map.view.drag_finished.connect(lambda x, y: ends.append(("finish", x, y)))
    real_drag(qtbot, window, loaded.embedding[i], empty_spot(loaded, window))
    assert [e[0] for e in ends] == ["start", "finish"]
    (_, x0, y0), (_, x1, y1) = ends
    qtbot.waitUntil(lambda: panel.images is not None and panel.frames is not None
                    and np.array_equal(panel.frames[-1], endpoint_latent(loaded, x1, y1, window.map.nearest(x1, y1))),
                    timeout=10_000)
    assert panel.images.shape[0] == 8 and panel.strip_view.count == 8
    a = window.map.nearest(x0, y0)
    assert a >= 0 and np.array_equal(panel.frames[0], loaded.latents[a])   # the data point's exact latent
    assert window.map.nearest(x1, y1) == -1                                # released on empty map
    direct = decode(digits_vae_path, np.stack([panel.frames[0], panel.frames[-1]]))
    # a batch of 8 and a batch of 2 may round one pixel differently, never more
    assert np.abs(panel.images[0].astype(int) - direct[0]).max() <= 1
    assert np.abs(panel.images[-1].astype(int) - direct[1]).max() <= 1
    path_x, _ = window.map.path_item.getData()
    assert len(path_x) == 8                                               # the path is drawn on the map


def test_the_strip_follows_the_last_position_of_a_fast_drag(qtbot, window, digits_vae_path, monkeypatch):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    panel = panel_of(window)
    view = window.map.view
    emb = loaded.embedding
    # the worker is held busy while the drag runs, as a slow decode would: on a quiet machine it could
    # otherwise keep up with every position, and the test would say nothing about queueing
    release = threading.Event()
    hold_worker(monkeypatch, window.controller, release)
    updates_before = panel.strip_view.updates
    view.drag_started.emit(*emb[0])
    for t in np.linspace(0, 1, 200):
        view.dragged.emit(*(emb[0] + t * (emb[1] - emb[0])))
    view.drag_finished.emit(*emb[1])
    release.set()
    last = endpoint_latent(loaded, *emb[1], window.map.nearest(*emb[1]))
    qtbot.waitUntil(lambda: panel.frames is not None and np.array_equal(panel.frames[-1], last), timeout=10_000)
    qtbot.wait(200)
    assert panel.strip_view.updates - updates_before <= 2    # only the newest request was decoded, no queue


def test_frames_mode_waypoints_and_clicking_a_frame(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    panel = panel_of(window)
    for index, button in ((3, panel.set_a_button), (10, panel.set_b_button), (20, panel.add_button)):
        window.controller.select_data_point(index)
        button.click()
    panel.n_frames.setValue(12)
    expected = strip_latents(loaded.latents[[3, 10, 20]], 12, "slerp")
    qtbot.waitUntil(lambda: panel.frames is not None and len(panel.frames) == 12, timeout=10_000)
    assert np.array_equal(panel.frames, expected) and panel.strip_view.count == 12
    assert "3 waypoints" in panel.status.text()
    slerp_frames = panel.frames
    panel.mode.setCurrentText("lerp")
    qtbot.waitUntil(lambda: panel.frames is not slerp_frames, timeout=10_000)
    assert np.abs(panel.frames[5] - slerp_frames[5]).max() > 1e-4
    # a click on frame 5 of the strip makes it the current image
    x, y = panel.strip_view.tile_centre(5)
    scene = panel.strip_view.view.mapViewToScene(QPointF(x, y))
    pos = panel.strip_view.widget.mapFromScene(scene)
    QTest.mouseClick(panel.strip_view.widget.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    qtbot.waitUntil(lambda: window.state.current.source == "strip", timeout=5000)
    assert np.array_equal(window.state.current.base, panel.frames[5])
    qtbot.waitUntil(lambda: window.decoded_view.image is not None
                    and np.abs(window.decoded_view.image.astype(int) - panel.images[5]).max() <= 1, timeout=5000)


def test_export_png_and_gif_with_the_frames_latents(qtbot, window, digits_vae_path, tmp_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    panel = strip_between_points(qtbot, window, 1, 2)
    png = panel.export_png(tmp_path / "strip.png")
    gif = panel.export_gif(tmp_path / "strip.gif")
    with Image.open(png) as img:
        assert img.height == 8 * 16 and img.width == (8 * 9 - 1) * 16
    with Image.open(gif) as img:
        assert img.n_frames == 2 * 8 - 2            # forth and back
    recipe = json.loads((tmp_path / "strip.gif.recipe.json").read_text())
    assert np.allclose(recipe["frames"], panel.frames) and np.allclose(recipe["frames"][0], loaded.latents[1])
    assert (tmp_path / "strip.gif").stat().st_size > 0 and (tmp_path / "strip.gif.recipe.json").exists()


def test_a_strip_export_that_fails_is_one_error_the_window_shows(qtbot, window, digits_vae_path, tmp_path,
                                                                  monkeypatch):
    """The panel says so through its error signal, which the window connects (it never reaches for the
    window itself): the dialog's message names the folder that is not there."""
    from PySide6.QtWidgets import QFileDialog

    open_and_wait(qtbot, window, digits_vae_path)
    panel = strip_between_points(qtbot, window, 1, 2)
    missing = tmp_path / "no such folder" / "strip.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(missing), "")))
    with qtbot.waitSignal(panel.error, timeout=5000) as said:
        panel._export_dialog("png")
    assert said.args[0] == "Export failed" and window.errors == [said.args[1]]
    assert "no such folder" in window.errors[0] and not missing.exists()


def test_a_session_reopens_the_strip_with_its_waypoints(qtbot, window, digits_vae_path, tmp_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    panel = panel_of(window)
    panel.n_frames.setValue(12)
    panel.mode.setCurrentText("lerp")
    for index, button in ((3, panel.set_a_button), (10, panel.set_b_button), (20, panel.add_button)):
        window.controller.select_data_point(index)
        qtbot.waitUntil(lambda i=index: np.array_equal(window.state.latent(), loaded.latents[i]), timeout=10_000)
        button.click()
    qtbot.waitUntil(lambda: panel.frames is not None and len(panel.frames) == 12, timeout=10_000)
    saved_frames, saved_images = panel.frames.copy(), panel.images.copy()
    path = tmp_path / "strip_session.json"
    assert window.session.save_session(str(path))
    stored = json.loads(path.read_text())["panels"]["interpolation"]
    assert stored["frames"] == 12 and stored["mode"] == "lerp" and len(stored["waypoints"]) == 3
    panel.clear()
    panel.n_frames.setValue(5)
    panel.mode.setCurrentText("slerp")
    with qtbot.waitSignal(window.session.session_opened, timeout=10_000):
        assert window.session.open_session(str(path))
    qtbot.waitUntil(lambda: panel.frames is not None and len(panel.frames) == 12, timeout=10_000)
    assert panel.n_frames.value() == 12 and panel.mode.currentText() == "lerp"
    assert np.array_equal(panel.frames, saved_frames) and np.array_equal(panel.images, saved_images)
    assert np.array_equal(panel.waypoints.points[1], loaded.latents[10])
    # a session whose strip does not fit its own latent size is a damaged file: one error, nothing applied
    stored["waypoints"] = [[0.0, 1.0]]
    doc = json.loads(path.read_text())
    doc["panels"]["interpolation"] = stored
    path.write_text(json.dumps(doc))
    errors = []
    window.show_error = lambda title, text: errors.append(text)
    assert not window.session.open_session(str(path))
    assert "panels.interpolation.waypoints[0]" in errors[-1]
    assert np.array_equal(panel.frames, saved_frames)


def test_a_path_that_leaves_the_data_is_flagged_and_one_that_stays_is_not(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    panel = panel_of(window)
    panel.waypoints.set_ends(loaded.latents[3], loaded.latents[3] * 25)      # runs far off the data
    panel.request()
    qtbot.waitUntil(lambda: panel.off_data is not None, timeout=10_000)
    assert panel.off_data[0] == np.False_ and panel.off_data[-1] == np.True_
    assert panel.warning.isVisibleTo(panel) and "leave the data" in panel.warning.text()
    colours = window.map.path_item.colours()
    assert colours[0] == "#ffffff" and colours[-1] == "#ff9900"
    panel.waypoints.set_ends(loaded.latents[3], loaded.latents[3])          # a strip on one data point
    panel.request()
    qtbot.waitUntil(lambda: panel.off_data is not None and not panel.off_data.any(), timeout=10_000)
    assert not panel.warning.isVisibleTo(panel)


def test_a_cvae_strip_follows_a_condition_changed_while_it_is_decoded(qtbot, window, digits_cvae_path):
    open_and_wait(qtbot, window, digits_cvae_path)
    panel = panel_of(window)
    for index, button in ((3, panel.set_a_button), (10, panel.set_b_button)):
        window.controller.select_data_point(index)
        button.click()
    assert panel.frames is None                                # the strip is on its way
    now = window.state.condition
    other = np.eye(len(now), dtype=np.float32)[(int(now.argmax()) + 1) % len(now)]
    window.state.set_condition(other)
    qtbot.waitUntil(lambda: panel.condition is not None and np.array_equal(panel.condition, other), timeout=10_000)
    expected = decode(digits_cvae_path, panel.frames[:1], other[None])[0]
    assert np.abs(panel.images[0].astype(int) - expected).max() <= 1


def test_the_strip_area_says_what_goes_there_until_a_strip_arrives(qtbot, window, digits_vae_path):
    open_and_wait(qtbot, window, digits_vae_path)
    panel = panel_of(window)
    placeholder = panel.strip_view.placeholder
    assert placeholder.isVisibleTo(panel) and "drag on the map" in placeholder.text()
    for index, button in ((3, panel.set_a_button), (10, panel.set_b_button)):
        window.controller.select_data_point(index)
        button.click()
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=10_000)
    assert not placeholder.isVisibleTo(panel) and panel.strip_view.widget.isVisibleTo(panel)
    panel.clear_button.click()
    assert placeholder.isVisibleTo(panel)


def _gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as img:
        frames = []
        for i in range(img.n_frames):
            img.seek(i)
            frames.append(np.asarray(img.convert("RGB")))
        return frames


def test_every_export_is_what_render_of_its_recipe_draws(qtbot, window, digits_vae_path, tmp_path):
    """Issue 15, finding 9: a re-rendered strip had black separators where the export had grey (4,900
    pixels), and the GIF's recipe replaced the PNG's (one name). Image, strip PNG and GIF frames, each
    against `latent-atlas render` of its own recipe, pixel for pixel."""
    from latent_atlas.main import main

    open_and_wait(qtbot, window, digits_vae_path)
    panel = strip_between_points(qtbot, window, 1, 2)
    exported = {"image": window.exports.export_image(str(tmp_path / "out.png"), scale=3),
                "strip": panel.export_png(tmp_path / "strip.png"),
                "gif": panel.export_gif(tmp_path / "strip.gif", frame_ms=80)}
    recipes = {kind: tmp_path / f"{path.name}.recipe.json" for kind, path in exported.items()}
    assert all(r.exists() for r in recipes.values()), "a recipe per export, none replaced"
    assert "gif" not in json.loads(recipes["strip"].read_text())
    assert json.loads(recipes["gif"].read_text())["gif"] == {"frame_ms": 80, "bounce": True}
    for kind in ("image", "strip"):
        again = tmp_path / f"again-{kind}.png"
        assert main(["render", str(recipes[kind]), "--out", str(again)]) == 0
        ours, theirs = np.asarray(Image.open(exported[kind])), np.asarray(Image.open(again))
        assert ours.shape == theirs.shape
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1, kind     # threads may differ by 1
    strip_png = np.asarray(Image.open(exported["strip"]))
    assert (strip_png[:, 8 * 16:8 * 16 + 16] == 96).all(), "the separator is the editor's grey"
    again_gif = tmp_path / "again.gif"
    assert main(["render", str(recipes["gif"]), "--out", str(again_gif)]) == 0
    ours, theirs = _gif_frames(exported["gif"]), _gif_frames(again_gif)
    assert len(ours) == len(theirs) == 2 * len(panel.frames) - 2
    assert all(np.abs(a.astype(int) - b.astype(int)).max() <= 1 for a, b in zip(ours, theirs, strict=True))
    with Image.open(again_gif) as img:
        assert img.info["duration"] == 80


def test_the_status_line_under_the_strip_is_seen_after_a_strip_and_an_export(qtbot, window, digits_vae_path,
                                                                               tmp_path, monkeypatch):
    """Xvfb walk: the line left of Export PNG/GIF had no width beside the stretched warning, so the path's
    description and "Exported …" were never on screen (its text() said them; nothing showed)."""
    from PySide6.QtWidgets import QFileDialog, QLabel

    open_and_wait(qtbot, window, digits_vae_path)
    panel = strip_between_points(qtbot, window, 0, 5)
    qtbot.waitUntil(lambda: panel.status.width() > 0, timeout=2000)
    assert QLabel.text(panel.status) == panel.status.text() != ""      # drawn whole, not elided to nothing
    out = tmp_path / "s.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "PNG image (*.png)"))
    panel.png_button.click()
    assert out.exists() and panel.status.text() == f"Exported {out}"
    shown = QLabel.text(panel.status)
    assert shown.startswith("Exported") and len(shown) >= 12, shown
    assert panel.status.visibleRegion().boundingRect().width() >= panel.status.fontMetrics().horizontalAdvance(shown)
