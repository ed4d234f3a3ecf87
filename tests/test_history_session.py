"""Undo/redo and sessions: the Qt-free history and session file first, then the real window
(Ctrl+Z brings back the exact image; a saved session reopens the exact image, also in a new window)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PySide6.QtGui import QKeySequence

from latent_atlas.editor.core.history import History, same_snapshot
from latent_atlas.editor.core.session import SessionError, check_checkpoint, read_session
from latent_atlas.editor.core.state import AttributeEdit, CurrentPoint, EditorState
from latent_atlas.editor.panels.attribute_panel import AttributePanel
from latent_atlas.editor.panels.condition_panel import ConditionPanel
from tests.editor_helpers import open_and_wait
from tests.panel_helpers import decode_reference, shown, tool


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def point(seed: int, d: int = 4) -> CurrentPoint:
    return CurrentPoint(np.random.default_rng(seed).standard_normal(d).astype(np.float32), (float(seed), 0.0))


@pytest.fixture
def edited_state():
    state = EditorState()
    state.set_point(point(0))
    return state


def test_undo_and_redo_walk_through_points_exactly(edited_state):
    state, history = edited_state, History(edited_state)
    latents = [state.latent()]
    for seed in (1, 2, 3):
        state.set_point(point(seed))
        latents.append(state.latent())
    assert len(history) == 3 and history.undo_label == "move the point"
    for expected in reversed(latents[:-1]):
        assert history.undo()
        assert np.array_equal(state.latent(), expected)
    assert not history.undo() and history.can_redo
    for expected in latents[1:]:
        assert history.redo()
        assert np.array_equal(state.latent(), expected)
    assert not history.can_redo


def test_a_slider_drag_is_one_step_and_separate_drags_are_two(edited_state):
    state, clock = edited_state, FakeClock()
    state.edits.append(AttributeEdit("smile", np.ones(4, np.float32)))
    history = History(state, clock=clock)
    for w in np.arange(1, 41) * 0.05:       # one drag: 40 moves, 20 ms apart
        clock.now += 0.02
        state.set_edit_weight("smile", float(w))
    clock.now += 5.0                         # the user lets go, then drags again later
    for w in (1.5, 1.0, 0.5):
        clock.now += 0.02
        state.set_edit_weight("smile", w)
    assert len(history) == 2 and history.undo_label == "weight of smile"
    history.undo()
    assert state.edits[0].weight == pytest.approx(2.0)
    history.undo()
    assert state.edits[0].weight == 0.0


def test_without_coalescing_every_slider_move_is_a_step(edited_state):
    # negative control for the coalescing above: the same drag with coalesce_s=0 makes 40 steps
    state, clock = edited_state, FakeClock()
    state.edits.append(AttributeEdit("smile", np.ones(4, np.float32)))
    history = History(state, coalesce_s=0.0, clock=clock)
    for w in np.arange(1, 41) * 0.05:
        clock.now += 0.02
        state.set_edit_weight("smile", float(w))
    assert len(history) == 40


def test_vectors_added_and_removed_and_conditions_are_undoable(edited_state):
    state = edited_state
    history = History(state)
    state.edits.append(AttributeEdit("v", np.ones(4, np.float32), 0.0))
    state.events.latent_changed.emit(state)
    assert history.undo_label == "add vector v"
    state.set_condition(np.array([0, 1], np.float32))
    assert history.undo_label == "change the condition"
    state.edits = []
    state.events.latent_changed.emit(state)
    assert history.undo_label == "remove vector v"
    history.undo()
    assert [e.name for e in state.edits] == ["v"]
    history.undo()
    assert state.condition is None
    history.undo()
    assert state.edits == []
    state.set_point(point(9))               # a new edit forgets what could be redone
    assert not history.can_redo


def test_history_keeps_at_most_its_limit(edited_state):
    history = History(edited_state, limit=5)
    for seed in range(1, 20):
        edited_state.set_point(point(seed))
    assert len(history) == 5


# -- the real window ------------------------------------------------------------------------------------
def test_edit_menu_has_undo_and_redo_with_their_shortcuts(window):
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[:2] == ["&File", "&Edit"]
    assert window.session.undo_action.shortcut() == QKeySequence("Ctrl+Z")
    assert window.session.redo_action.shortcut() == QKeySequence("Ctrl+Shift+Z")
    file_menu = window.menuBar().actions()[0].menu()
    assert {"Save &Session…", "Open S&ession…"} <= {a.text() for a in file_menu.actions()}


def test_undo_redo_restore_the_exact_images(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    undo, redo = window.session.undo_action, window.session.redo_action
    assert not undo.isEnabled()                          # opening a model is not an edit
    panel = tool(window, AttributePanel)
    start = shown(qtbot, window, decode_reference(digits_vae_path, window.state.latent()))
    window.controller.select_data_point(5)
    data_point = shown(qtbot, window, decode_reference(digits_vae_path, loaded.latents[5]))
    panel.add_candidate("0")
    panel.rows["0"].slider.setValue(40)                  # weight 2.0, through the slider
    z = loaded.latents[5] + np.float32(2.0) * window.state.edits[0].vector
    edited = shown(qtbot, window, decode_reference(digits_vae_path, z))
    assert not np.array_equal(start, data_point) and not np.array_equal(data_point, edited)
    assert undo.text() == "&Undo weight of 0"

    undo.trigger()                                       # the weight goes back to 0
    shown(qtbot, window, data_point)
    assert panel.rows["0"].slider.value() == 0
    undo.trigger()                                       # the vector is removed again
    assert "0" not in panel.rows and window.state.edits == []
    undo.trigger()                                       # the first point
    shown(qtbot, window, start)
    assert not undo.isEnabled()

    redo.trigger()
    shown(qtbot, window, data_point)
    redo.trigger()
    assert list(panel.rows) == ["0"]
    redo.trigger()
    shown(qtbot, window, edited)
    assert panel.rows["0"].slider.value() == 40 and not redo.isEnabled()


# -- sessions -----------------------------------------------------------------------------------------------
def make_edits(qtbot, window, path):
    loaded = open_and_wait(qtbot, window, path)
    panel = tool(window, AttributePanel)
    window.controller.select_data_point(7)
    panel.add_candidate("3")
    panel.add_candidate("8")
    panel.set_weight("3", 1.25)
    panel.set_weight("8", -0.6)
    if loaded.model.cond_dim:
        tool(window, ConditionPanel).set_class(4)
    expected = decode_reference(path, window.state.latent(), window.state.condition)
    return shown(qtbot, window, expected)


def test_session_round_trip_in_the_same_window(qtbot, window, digits_cvae_path, tmp_path):
    saved_image = make_edits(qtbot, window, digits_cvae_path)
    assert window.session.save_session(str(tmp_path / "s.json"))
    window.controller.select_data_point(2)
    tool(window, AttributePanel).set_weight("3", 0.0)
    tool(window, ConditionPanel).set_class(9)
    qtbot.waitUntil(lambda: not np.array_equal(window.decoded_view.image, saved_image), timeout=10_000)
    with qtbot.waitSignal(window.session.session_opened, timeout=10_000):
        assert window.session.open_session(str(tmp_path / "s.json"))
    shown(qtbot, window, saved_image)
    assert [(e.name, e.weight) for e in window.state.edits] == [("3", 1.25), ("8", -0.6)]
    assert int(np.argmax(window.state.condition)) == 4
    assert tool(window, ConditionPanel).classes.currentIndex() == 4


def test_session_reopens_the_exact_view_in_a_new_window(qtbot, digits_vae_path, tmp_path):
    from latent_atlas.editor.app import create_window

    _, first = create_window(device="cpu")
    qtbot.addWidget(first)
    try:
        saved_image = make_edits(qtbot, first, digits_vae_path)
        with qtbot.waitSignal(first.controller.projection_ready, timeout=30_000):
            first.request_projection("pca", components=(0, 2))     # PC1 against PC3
        first.session.save_session(str(tmp_path / "s.json"))
        saved_latent, saved_cursor = first.state.latent(), first.state.current.cursor
        saved_map = first.state.loaded.embedding.copy()
    finally:
        first.controller.shutdown()
    _, second = create_window(device="cpu")
    qtbot.addWidget(second)
    try:
        with qtbot.waitSignals([second.session.session_opened, second.controller.projection_ready],
                               timeout=60_000):
            assert second.session.open_session(str(tmp_path / "s.json"))
        shown(qtbot, second, saved_image)
        assert np.array_equal(second.state.latent(), saved_latent) and second.state.current.cursor == saved_cursor
        np.testing.assert_allclose(second.state.loaded.embedding, saved_map, atol=1e-5)
        assert sorted(tool(second, AttributePanel).rows) == ["3", "8"]
        assert not second.session.undo_action.isEnabled()
    finally:
        second.controller.shutdown()


def test_a_session_whose_open_was_cancelled_is_not_applied_later(qtbot, window, digits_vae_path,
                                                                  digits_cvae_path, tmp_path):
    """Open Session on another model opens its checkpoint first; Cancel stops that, and opening the
    checkpoint later by hand shows that model as it opens, not the session that was given up."""
    make_edits(qtbot, window, digits_vae_path)
    assert window.session.save_session(str(tmp_path / "s.json"))
    open_and_wait(qtbot, window, digits_cvae_path)
    opened = []
    window.session.session_opened.connect(opened.append)
    with qtbot.waitSignal(window.controller.load_cancelled, timeout=30_000):
        assert window.session.open_session(str(tmp_path / "s.json"))     # opens digits_vae first
        window.cancel_button.click()
    assert window.state.loaded.path == digits_cvae_path
    open_and_wait(qtbot, window, digits_vae_path)
    qtbot.wait(200)                                   # a pending session is applied a moment after the load
    assert opened == [] and window.errors == []


def _broken(path, tmp_path, edit):
    doc = json.loads(path.read_text())
    edit(doc)
    bad = tmp_path / "bad_session.json"
    bad.write_text(json.dumps(doc))
    return bad


@pytest.mark.parametrize("edit, problem", [
    (lambda d: d["point"].update(base=[0.0, 1.0]), "point.base: has 2 numbers, the session's latent_dim has 4"),
    (lambda d: d["vectors"][0].update(weight="a lot"), "vectors[0].weight: expected a number, got a string"),
    (lambda d: d.update(format="nope"), "not a Latent Atlas session"),
    (lambda d: d.update(latent_dim=8), "point.base: has 4 numbers, the session's latent_dim has 8"),
    (lambda d: d.update(checkpoint="/nowhere/x.safetensors"), "cannot be opened"),
])
def test_bad_session_files_show_an_error_and_keep_the_view(qtbot, window, digits_vae_path, tmp_path, edit,
                                                          problem):
    image = make_edits(qtbot, window, digits_vae_path)
    window.session.save_session(str(tmp_path / "good.json"))
    before = window.state.snapshot()
    bad = _broken(tmp_path / "good.json", tmp_path, edit)
    assert not window.session.open_session(str(bad))
    assert problem in window.errors[-1] and str(bad) in window.errors[-1]
    assert same_snapshot(window.state.snapshot(), before)
    assert window.state.loaded.path == digits_vae_path and np.array_equal(window.decoded_view.image, image)


def test_a_good_session_is_accepted(qtbot, window, digits_vae_path, tmp_path):
    # negative control for the bad files above: the unbroken file opens without an error
    make_edits(qtbot, window, digits_vae_path)
    window.session.save_session(str(tmp_path / "good.json"))
    bad = _broken(tmp_path / "good.json", tmp_path, lambda d: None)
    with qtbot.waitSignal(window.session.session_opened, timeout=10_000):
        assert window.session.open_session(str(bad))
    assert window.errors == []


def test_session_for_another_latent_size_is_refused_before_opening(digits_vae_path, digits_gan_path, tmp_path):
    doc = {"format": "latent-atlas-session", "version": 1, "checkpoint": str(digits_gan_path), "latent_dim": 4,
           "cond_dim": 0, "point": {"base": [0, 0, 0, 0]}, "vectors": []}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(SessionError, match="latent of 4 dimensions .* has 8 and 0"):
        check_checkpoint(read_session(tmp_path / "s.json"))
    (tmp_path / "s.json").write_text(json.dumps({**doc, "checkpoint": str(digits_vae_path)}))
    check_checkpoint(read_session(tmp_path / "s.json"))    # negative control: the right model passes


def test_session_finds_its_checkpoint_beside_it_when_the_folder_moved(tmp_path, digits_vae_path):
    shutil.copy(digits_vae_path, tmp_path / "model.safetensors")
    doc = {"format": "latent-atlas-session", "version": 1, "checkpoint": "/moved/away/model.safetensors",
           "latent_dim": 4, "cond_dim": 0, "point": None}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    assert read_session(tmp_path / "s.json").checkpoint == tmp_path / "model.safetensors"


def test_letting_go_of_a_slider_ends_its_undo_step(qtbot, window, digits_vae_path):
    open_and_wait(qtbot, window, digits_vae_path)
    panel = tool(window, AttributePanel)
    panel.add_candidate("1")
    slider = panel.rows["1"].slider
    for ticks in (5, 10, 15):          # one drag ...
        slider.setValue(ticks)
    slider.sliderReleased.emit()       # ... let go, and at once a second drag
    for ticks in (20, 25):
        slider.setValue(ticks)
    window.history.undo()
    assert window.state.edits[0].weight == 0.75 and slider.value() == 15
    window.history.undo()
    assert window.state.edits[0].weight == 0.0 and slider.value() == 0


def test_ctrl_z_in_a_focused_number_box_undoes_the_edit(qtbot, window, digits_vae_path):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    open_and_wait(qtbot, window, digits_vae_path)
    panel = tool(window, AttributePanel)
    window.tools.setCurrentWidget(panel)
    panel.add_candidate("1")
    spin = panel.rows["1"].spin
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    spin.selectAll()
    QTest.keyClicks(spin, "1.5")
    assert window.state.edits[0].weight == 0.0             # typing alone is not an edit yet ...
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert window.state.edits[0].weight == 1.5             # ... Enter makes it one
    QTest.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.state.edits[0].weight == 0.0 and spin.value() == 0.0 and spin.hasFocus()
    QTest.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.state.edits[0].weight == 1.5 and spin.value() == 1.5
    spin.selectAll()
    QTest.keyClicks(spin, "-2")                            # typed, not confirmed, then undone: back to 1.5
    QTest.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.state.edits[0].weight == 1.5 and spin.value() == 1.5


def test_ctrl_z_in_a_training_form_box_stays_with_the_box(qtbot, window, digits_vae_path):
    """Only boxes that edit the image hand Ctrl+Z to the editor's history; the others undo their own typing."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from latent_atlas.editor.training.training_panel import TrainingPanel

    open_and_wait(qtbot, window, digits_vae_path)
    tool(window, AttributePanel).add_candidate("1")
    tool(window, AttributePanel).set_weight("1", 1.0)
    panel = tool(window, TrainingPanel)
    window.tools.setCurrentWidget(panel)
    box = panel.form.epochs
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    box.selectAll()
    QTest.keyClicks(box, "7")
    QTest.keyClick(box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.state.edits[0].weight == 1.0             # the edit history was not touched
