"""The main window's toolbar (the bundled models, Open…, Export image…) and its menus: File (open, your image,
recent and bundled files, sessions, exports, quit), Edit (undo, redo), View (the projection, the training
split) and Device. Built into the window's own bars from the actions and callables the window hands over."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QMenu, QMenuBar, QToolBar, QWidget

from latent_atlas.editor.core.bundled import bundled_models
from latent_atlas.editor.files.recent_files import RecentFiles
from latent_atlas.editor.map.map_toolbar import UMAP_INSTALL, umap_installed
from latent_atlas.editor.widgets.plain_text import PlainLabel


class WindowMenus:
    def __init__(self, parent: QWidget, tool_bar: QToolBar, menu_bar: QMenuBar, *, recent: RecentFiles,
                 open_dialog: Callable[[], None], open_path: Callable[[str], None], quit: Callable[[], None],
                 request_projection: Callable[..., None], own_image_action: QAction, exports,
                 map_split_toggled: Callable[[bool], None]):
        """`exports`: editor/files/export_actions.ExportActions (its image action goes on the toolbar too)."""
        self._parent, self._menu_bar, self._recent, self._open_path = parent, menu_bar, recent, open_path
        tool_bar.setMovable(False)
        tool_bar.addWidget(PlainLabel(" Model "))
        self.model_picker = QComboBox()
        self.model_picker.setMinimumWidth(260)
        self.model_picker.addItem("Bundled models…", None)
        for m in bundled_models():
            self.model_picker.addItem(m.name, str(m.path.resolve()))
            self.model_picker.setItemData(self.model_picker.count() - 1, m.description, Qt.ItemDataRole.ToolTipRole)
        self.model_picker.activated.connect(self._on_model_picked)
        tool_bar.addWidget(self.model_picker)
        self.open_action = QAction("Open…", parent, shortcut=QKeySequence.StandardKey.Open, triggered=open_dialog)
        tool_bar.addAction(self.open_action)
        tool_bar.addAction(exports.image_action)

        self._file_menu = file_menu = menu_bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(own_image_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        bundled = file_menu.addMenu("&Bundled models")
        for m in bundled_models():
            bundled.addAction(m.name, lambda p=str(m.path): open_path(p))
        self._file_exports = file_menu.addSeparator()     # the session actions go above it
        for action in exports.actions():
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(QAction("&Quit", parent, shortcut=QKeySequence.StandardKey.Quit, triggered=quit))
        self._view_menu = view = menu_bar.addMenu("&View")
        for text, method in (("PCA", "pca"), ("t-SNE", "tsne"), ("UMAP", "umap")):
            action = view.addAction(f"Projection: {text}", lambda m=method: request_projection(m))
            if method == "umap" and not umap_installed():
                action.setEnabled(False)
                action.setToolTip(UMAP_INSTALL)
                view.setToolTipsVisible(True)
        view.addSeparator()
        self.train_split_action = QAction("Map the training split (up to 60,000 points)", parent, checkable=True)
        self.train_split_action.toggled.connect(map_split_toggled)
        view.addAction(self.train_split_action)
        self.device_menu = menu_bar.addMenu("&Device")
        self.device_actions: dict[str, QAction] = {}

    def add_session(self, session) -> None:
        """Edit (undo, redo) after File; Open / Save Session in File, between the opening and the exports.
        `session`: editor/files/history_actions.SessionActions."""
        edit = QMenu("&Edit", self._parent)
        edit.addActions([session.undo_action, session.redo_action])
        self._menu_bar.insertMenu(self._view_menu.menuAction(), edit)
        self._file_menu.insertActions(self._file_exports, [session.open_action, session.save_action])
        self._file_menu.insertSeparator(session.open_action)

    def add_devices(self, names: list[str], current: str, set_device: Callable[[str], None]) -> None:
        """The Device menu, one checkable entry per device name, `current` checked (else the first)."""
        group = QActionGroup(self._parent)
        for name in names:
            action = QAction(name.upper() if name != "cpu" else "CPU", self._parent, checkable=True)
            action.triggered.connect(lambda _=False, n=name: set_device(n))
            group.addAction(action)
            self.device_menu.addAction(action)
            self.device_actions[name] = action
        self.device_actions.get(current, next(iter(self.device_actions.values()))).setChecked(True)

    def show_model(self, loaded) -> None:
        """The Model list names the model open: its bundled entry, or its own name in the first row."""
        index = -1 if loaded.is_module else self.model_picker.findData(str(Path(loaded.path).resolve()))
        self.model_picker.setItemText(0, loaded.name if index < 0 else "Bundled models…")
        self.model_picker.setCurrentIndex(max(0, index))

    def _on_model_picked(self, index: int) -> None:
        path = self.model_picker.itemData(index)
        if path:
            self._open_path(path)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self._recent.paths():
            self.recent_menu.addAction(path, lambda p=path: self._open_path(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)
