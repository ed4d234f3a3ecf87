"""Edit > Undo / Redo (Ctrl+Z, Ctrl+Shift+Z) and File > Save Session / Open Session.

The main window builds a SessionActions (its `history` is editor.core.history.History), handing it the
state, the controller, how to ask for a projection and its WindowFeedback, and puts its actions in its
menus. Panels keep extra state in sessions through the window, which registers each with
`session.add_panel_state(key, get_state, set_state)`: get_state() -> JSON-able dict.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QFileDialog, QWidget

from latent_atlas.editor.core.history import History
from latent_atlas.editor.core.session import (
    Session,
    SessionError,
    check_checkpoint,
    check_fits,
    json_options,
    made_on,
    make_session,
    read_session,
    write_session,
)
from latent_atlas.editor.files.window_feedback import WindowFeedback
from latent_atlas.editor.widgets.save_places import remember, start_path
from latent_atlas.models.errors import LatentAtlasError

SESSION_FILTER = "Latent Atlas sessions (*.json);;All files (*)"


UNDO_EDITS = "undo_edits"    # a number box with this property set True edits the latent (an attribute weight)


class NumberBoxUndo(QObject):
    """Ctrl+Z / Ctrl+Shift+Z in a focused number box that edits the image (one with the UNDO_EDITS property)
    undo the editor's last edit, as everywhere else in the window; without this the box's line edit takes the
    shortcut and undoes its own typing. Other boxes (the training form, the map's axes) and text fields keep
    their own undo. The filter goes on each such box as it first takes the focus."""

    def __init__(self, top_level: QWidget):
        """`top_level`: the window whose boxes these are (a box of another window keeps its own undo)."""
        super().__init__(top_level)
        self._top_level = top_level
        self._filtered: set[int] = set()
        QApplication.instance().focusChanged.connect(self._on_focus_changed)

    def _on_focus_changed(self, _old, new) -> None:
        box = new if isinstance(new, QAbstractSpinBox) else None
        if box is None and new is not None and isinstance(new.parent(), QAbstractSpinBox):
            box = new.parent()
        if box is not None and box.property(UNDO_EDITS) and id(box) not in self._filtered \
                and box.window() is self._top_level:
            self._filtered.add(id(box))
            box.installEventFilter(self)
            box.destroyed.connect(lambda _=None, key=id(box): self._filtered.discard(key))

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and (
                event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo)):
            if not obj.keyboardTracking():
                obj.interpretText()           # a typed, unconfirmed value becomes an edit before undoing
            event.ignore()                    # not overridden: the window's Undo / Redo action runs
            return True
        return False


class SessionActions(QObject):
    session_opened = Signal(str)     # path, once the view shows the session
    session_saved = Signal(str)

    def __init__(self, state, controller, request_projection: Callable[..., None], feedback: WindowFeedback):
        """`request_projection(method, **options)`: the window's, so a session's map is asked for as the
        View menu asks for it."""
        super().__init__(feedback.parent)
        self._state, self._controller, self._feedback = state, controller, feedback
        self._request_projection = request_projection
        parent = feedback.parent
        self.history = History(state)
        self._panels: dict[str, tuple[Callable[[], dict], Callable[[dict], None]]] = {}
        self._pending: Session | None = None
        self.undo_action = QAction("&Undo", parent, shortcut=QKeySequence("Ctrl+Z"), triggered=self.history.undo)
        self.redo_action = QAction("&Redo", parent, shortcut=QKeySequence("Ctrl+Shift+Z"),
                                   triggered=self.history.redo)
        self.save_action = QAction("Save &Session…", parent, triggered=self.save_dialog)
        self.open_action = QAction("Open S&ession…", parent, triggered=self.open_dialog)
        self.history.changed.connect(self._on_history_changed)
        self._on_history_changed(self.history)
        controller.model_loaded.connect(self._on_model_loaded)
        controller.load_failed.connect(lambda _msg: setattr(self, "_pending", None))
        controller.load_cancelled.connect(lambda: setattr(self, "_pending", None))   # given up with its open

    def add_panel_state(self, key: str, get_state: Callable[[], dict], set_state: Callable[[dict], None]) -> None:
        self._panels[key] = (get_state, set_state)

    # -- saving ---------------------------------------------------------------------------------------
    def save_dialog(self) -> None:
        if self._state.loaded is None:
            self._feedback.show_error("Nothing to save", "Open a model first.")
            return
        path, _ = QFileDialog.getSaveFileName(self._feedback.parent, "Save session", start_path("session.json"),
                                              SESSION_FILTER)
        if path:
            remember(path)
            self.save_session(path)

    def save_session(self, path: str) -> bool:
        c = self._controller
        try:
            panels = {key: get() for key, (get, _set) in self._panels.items()}
            write_session(path, make_session(self._state, c.projection_method, c.projection_options, panels))
        except (LatentAtlasError, OSError) as e:
            self._feedback.show_error("Could not save the session", str(e))
            return False
        self._feedback.status.showMessage(f"saved the session to {path}", 8000)
        self.session_saved.emit(str(path))
        return True

    # -- opening --------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._feedback.parent, "Open session", "", SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        """Checks the file first: a bad session shows an error and changes nothing. Returns whether it
        was accepted (it is shown at once, or once its checkpoint has opened: `session_opened`)."""
        try:
            session = read_session(path)
            loaded = self._state.loaded
            if made_on(session, loaded):        # a module's session needs that module open (it says which)
                check_fits(session, loaded.info.latent_dim, loaded.info.cond_dim, len(loaded.latents))
                self._apply(session)
                return True
            check_checkpoint(session)
        except SessionError as e:
            self._feedback.show_error("Could not open the session", str(e))
            return False
        self._pending = session
        self._controller.open(session.checkpoint)
        return True

    def _on_model_loaded(self, loaded) -> None:
        session = self._pending
        if session is not None and session.module is None and made_on(session, loaded):
            self._pending = None
            # the controller shows a first data point right after model_loaded; the session comes after it
            QTimer.singleShot(0, lambda: self._apply(session, fresh=True))

    def _apply(self, session: Session, fresh: bool = False) -> None:
        loaded = self._state.loaded
        try:
            check_fits(session, loaded.info.latent_dim, loaded.info.cond_dim, len(loaded.latents))
        except SessionError as e:
            self._feedback.show_error("Could not open the session", str(e))
            return
        c = self._controller
        if (loaded.projection is None or session.projection != loaded.projection.method
                or session.projection_options != json_options(c.projection_options)):
            self._request_projection(session.projection, **session.projection_options)
        self._state.restore(session.snapshot)
        if fresh:
            self.history.clear()    # undo should not go back to the view the model opened on
        for key, value in session.panels.items():
            if key in self._panels:
                self._panels[key][1](value)
        if session.checkpoint_sha256 and session.checkpoint_sha256 != loaded.sha256:
            self._feedback.status.showMessage(f"{loaded.name} has changed since the session was saved: "
                                           "images may differ", 15_000)
        self.session_opened.emit(str(session.path))

    def _on_history_changed(self, history: History) -> None:
        self.undo_action.setEnabled(history.can_undo)
        self.redo_action.setEnabled(history.can_redo)
        self.undo_action.setText(f"&Undo {history.undo_label}" if history.can_undo else "&Undo")
        self.redo_action.setText(f"&Redo {history.redo_label}" if history.can_redo else "&Redo")
