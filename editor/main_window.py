"""The main window: lays out the panels and wires them to the controller. Behaviour lives elsewhere."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from latent_atlas.editor.controller import Controller
from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.files.convert_offer import ConvertOffer
from latent_atlas.editor.files.export_actions import ExportActions
from latent_atlas.editor.files.history_actions import NumberBoxUndo, SessionActions
from latent_atlas.editor.files.own_image import OwnImage
from latent_atlas.editor.files.recent_files import RecentFiles
from latent_atlas.editor.files.window_feedback import WindowFeedback
from latent_atlas.editor.map.latent_map import LatentMap
from latent_atlas.editor.map.map_toolbar import MapToolbar, method_name
from latent_atlas.editor.map.map_view_render import map_colouring
from latent_atlas.editor.panels.image_column import ImageColumn
from latent_atlas.editor.widgets.data_notice import DataNotice
from latent_atlas.editor.widgets.plain_text import html_text, message_box
from latent_atlas.editor.window_menus import WindowMenus
from latent_atlas.editor.window_status import WindowStatus
from latent_atlas.models.device import available_devices

CHECKPOINT_FILTER = ("Latent Atlas checkpoints (*.safetensors);;PyTorch files, offered for conversion "
                     "(*.pt *.pth *.ckpt);;All files (*)")


class ToolTabs(QTabWidget):
    """The tool tabs ask for at most MIN_TOOLS of room: a page that needs more scrolls or clips inside its tab.
    The window's minimum size is the sum of its parts', and one page's wider form or longer line grew the whole
    window by itself (issue 15: 1552x816 -> 1571x848 while loading and training)."""

    MIN_TOOLS = QSize(460, 300)

    def minimumSizeHint(self) -> QSize:
        return super().minimumSizeHint().boundedTo(self.MIN_TOOLS)


class MainWindow(QMainWindow):
    def __init__(self, state: EditorState, controller: Controller):
        super().__init__()
        self.state, self.controller = state, controller
        self.errors: list[str] = []            # every error shown, newest last (tests read it)
        self.setWindowTitle("Latent Atlas")
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self.recent = RecentFiles()
        # what the File actions may do to the window; show_error looked up when called (tests replace it)
        self.feedback = WindowFeedback(self, lambda title, message: self.show_error(title, message),
                                       self.statusBar())
        # each asked before the window closes; one that answers False keeps it open (a training run's)
        self.close_guards: list[Callable[[], bool]] = []
        self._build_panels()
        self.exports = ExportActions(state, controller, self.feedback, self.decoded_view, self.map,
                                     self.map_toolbar, self.colour_map_by)
        self.own_image = OwnImage(state, controller, self.original_view, self.feedback)
        self.map.plot.addItem(self.own_image.marker)
        self.menus = WindowMenus(self, self.addToolBar("Model"), self.menuBar(), recent=self.recent,
                                 open_dialog=self.open_dialog, open_path=self.open_path, quit=self.close,
                                 request_projection=self.request_projection,
                                 own_image_action=self.own_image.action, exports=self.exports,
                                 map_split_toggled=self._on_map_split_toggled)
        self.open_action, self.device_actions = self.menus.open_action, self.menus.device_actions
        self.window_status = ws = WindowStatus(self.statusBar(), controller, self)   # follows the jobs itself
        self.progress, self.progress_label, self.cancel_button = ws.progress, ws.progress_label, ws.cancel_button
        self.model_label = ws.model_label
        self._connect()
        # File > Open / Save Session, and the undo history
        self.session = SessionActions(state, controller, self.request_projection, self.feedback)
        self.history = self.session.history
        self._number_box_undo = NumberBoxUndo(self)
        self.menus.add_session(self.session)
        self.convert_offer = ConvertOffer(controller, self.open_path, self.feedback)

    # -- layout ---------------------------------------------------------------------------------------
    def _build_panels(self) -> None:
        self.map = LatentMap()
        self.map_toolbar = MapToolbar()
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.map_toolbar)
        self.data_notice = DataNotice()       # why the recorded data was not used, and a way to give it
        self.data_notice.folder_chosen.connect(self._on_data_folder_chosen)
        lv.addWidget(self.data_notice)
        lv.addWidget(self.map, 1)
        self.images = top = ImageColumn(self.state)      # the decoded image, its original, the line under them
        self.decoded_view, self.original_view, self.info = top.decoded_view, top.original_view, top.info
        self.tools = ToolTabs()
        self.tools.setDocumentMode(True)
        # images above, tools below, split by the user: a splitter keeps the images' size when a tab with
        # another size hint is shown (a box layout re-divided the column on every tab switch)
        column = QSplitter(Qt.Orientation.Vertical)
        column.setChildrenCollapsible(False)
        column.addWidget(top)
        column.addWidget(self.tools)
        column.setStretchFactor(0, 3)
        column.setStretchFactor(1, 4)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(6, 0, 0, 0)
        rv.addWidget(column)
        self.tools.hide()   # shown once a tool panel is added
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([720, 520])
        self.setCentralWidget(splitter)

    def add_tool(self, widget: QWidget, title: str) -> None:
        self.tools.addTab(widget, title)
        self.tools.show()

    def add_tool_panels(self) -> None:
        """The tabs under the images, the density line and the Training tab, each handed what it needs.
        They import torch: editor.app.finish_startup calls this once the window is on screen."""
        from PySide6.QtWidgets import QApplication

        from latent_atlas.editor.panels.attribute_panel import AttributePanel
        from latent_atlas.editor.panels.condition_panel import ConditionPanel
        from latent_atlas.editor.panels.density_label import DensityLabel
        from latent_atlas.editor.panels.interpolation_panel import InterpolationPanel
        from latent_atlas.editor.panels.samples_panel import SamplesPanel
        from latent_atlas.editor.panels.traversal_panel import TraversalPanel
        from latent_atlas.editor.training.training_panel import TrainingPanel

        state, controller = self.state, self.controller
        attributes = AttributePanel(state, controller, self.map)
        attributes.error.connect(self.show_error)
        attributes.status.connect(lambda text: self.statusBar().showMessage(text, 8000))
        attributes.drag_finished.connect(self.history.seal)
        if attributes.picker.selection is not None:
            attributes.picker.selection.armed_changed.connect(self.map_toolbar.show_lasso_hint)
        condition = ConditionPanel(state, controller)
        interpolation = InterpolationPanel(state, controller, self.map)
        interpolation.error.connect(self.show_error)
        for key, panel in (("attributes", attributes), ("condition", condition), ("interpolation", interpolation)):
            self.session.add_panel_state(key, panel.panel_state, panel.restore_panel_state)
        training = TrainingPanel()
        training.error.connect(self.show_error)
        training.open_requested.connect(self.open_path)
        self.close_guards.append(training.confirm_close)
        QApplication.instance().aboutToQuit.connect(training.shutdown)
        for panel, title in ((attributes, "Attributes"), (condition, "Condition"), (interpolation, "Interpolate"),
                             (SamplesPanel(state, controller), "Samples"),
                             (TraversalPanel(state, controller), "Traversal"), (training, "Training")):
            self.add_tool(panel, title)
        self.density_label = DensityLabel(state, controller)     # just under the info line below the images
        self.images.add_line(self.density_label)

    def attach_devices(self) -> None:
        """The Device menu and the device in the status bar: they need torch, so they are filled in once
        the window is on screen (editor.app.finish_startup). ConfigError for a device this machine lacks."""
        device = self.controller.device
        self.menus.add_devices(available_devices(), device.type, self.controller.set_device)
        self.window_status.show_device(device)

    def _connect(self) -> None:
        c, ev = self.controller, self.state.events
        self.map.point_clicked.connect(c.click)
        self.map_toolbar.projection_requested.connect(lambda m, o: self.request_projection(m, **o))
        self.map_toolbar.colour_requested.connect(self.colour_map_by)
        # the status bar (editor/window_status.py) follows the jobs itself
        c.load_failed.connect(lambda msg: (self.show_empty_hint(),
                                           self.show_error("Could not open the checkpoint", msg)))
        c.load_cancelled.connect(self.show_empty_hint)
        c.model_loaded.connect(self._on_model_loaded)
        c.first_image.connect(self.images.show_first_image)
        c.projection_failed.connect(self._on_projection_failed)
        c.projection_cancelled.connect(lambda _method: self._show_projection_method())
        ev.latent_changed.connect(self._show_cursor)
        ev.projection_changed.connect(self._on_projection_changed)

    def show_empty_hint(self) -> None:
        """While no model is open, the empty map says how to open one."""
        if self.state.loaded is None:
            self.map.plot.setTitle("No model open: File > Open, the Model list, or drop a checkpoint here",
                                   size="9pt")

    # -- opening --------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", self.recent.last_folder(), CHECKPOINT_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> None:
        if not self.convert_offer.offer(path):      # a PyTorch pickle is never opened, only converted
            self.controller.open(path)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                path = url.toLocalFile()
                if not self.own_image.open_if_image(path):   # PIL reads it as an image, by its bytes
                    self.open_path(path)
                event.acceptProposedAction()
                return

    # -- reactions ------------------------------------------------------------------------------------
    def _on_data_folder_chosen(self, folder: str) -> None:
        """Reopen the model with the user's data folder, on the worker; a bad folder keeps what is open."""
        if self.state.loaded is not None and not self.state.loaded.is_module:
            self.controller.open(str(self.state.loaded.path), data_folder=folder)

    def _on_model_loaded(self, loaded) -> None:
        self.data_notice.show_reason(loaded.data_refused)
        if not loaded.is_module:                       # a user's module opens from code, not File > Recent
            self.recent.add(str(loaded.path))
        info = loaded.info
        self.setWindowTitle(f"Latent Atlas — {loaded.name}")
        self.menus.show_model(loaded)
        self.map_toolbar.set_latent_dim(info.latent_dim)
        self.map_toolbar.select(loaded.projection.method if loaded.projection else "pca")
        self.images.model_loaded(loaded)
        self.map_toolbar.set_colour_choices(loaded.labels is not None, loaded.attribute_names)
        self.map.set_points(loaded.embedding, loaded.labels, loaded.label_names, loaded.images,
                            title=f"{method_name(loaded.projection.method)} of {loaded.source_note}")
        for w in loaded.warnings:
            self.statusBar().showMessage(w, 10_000)

    def colour_map_by(self, attribute: int) -> None:
        """-1: by label; j: two colours, without and with attribute j."""
        loaded = self.state.loaded
        if loaded is None:
            return
        labels, names = map_colouring(loaded, attribute)   # the map view export colours by the same rule
        self.map.set_points(loaded.embedding, labels, names, loaded.images, self.map.plot.titleLabel.text)

    def _on_projection_changed(self, embedding: np.ndarray) -> None:
        loaded = self.state.loaded
        self.map.set_embedding(embedding)   # keeps the current colouring
        self.map.plot.setTitle(html_text(f"{method_name(loaded.projection.method)} of {loaded.source_note}"), size="9pt")
        self.map_toolbar.select(loaded.projection.method)   # the box says what the map shows, however it came
        self._show_cursor(self.state)   # the state moved the point onto the new map (the image column its line)

    def _show_cursor(self, state: EditorState) -> None:
        point = state.current
        if point is not None and point.cursor is not None:
            self.map.set_cursor(*point.cursor)

    def _on_map_split_toggled(self, train: bool) -> None:
        self.controller.map_split = "train" if train else "test"
        self.controller.map_limit = 60_000 if train else 10_000
        if self.state.loaded is not None and self.state.loaded.is_module:
            self.statusBar().showMessage("a module's map shows the data it was opened with", 5000)
        elif self.state.loaded is not None:
            self.open_path(str(self.state.loaded.path))

    def request_projection(self, method: str, **options) -> None:
        loaded = self.state.loaded
        shown = None if loaded is None or loaded.projection is None else loaded.projection.method
        if method == shown and method in ("tsne", "umap") and not self.controller.projection_running:
            self.map_toolbar.select(method)
            return          # that map is on screen already: a refit would take minutes and change nothing
        self.map_toolbar.select(method)
        self.controller.set_projection(method, **options)

    def _on_projection_failed(self, message: str) -> None:
        self._show_projection_method()
        self.show_error("Projection failed", message)

    def _show_projection_method(self) -> None:
        loaded = self.state.loaded
        if loaded is not None and loaded.projection is not None:
            self.map_toolbar.select(loaded.projection.method)   # the box says what the map shows

    # -- errors and closing ----------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """Non-blocking dialog; the model that was open stays open."""
        self.errors.append(message)
        box = message_box(QMessageBox.Icon.Warning, title, message, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_error_box = box

    def closeEvent(self, event) -> None:
        for may_close in self.close_guards:
            if not may_close():
                event.ignore()
                return
        self.controller.shutdown()
        event.accept()
        QTimer.singleShot(0, lambda: None)
