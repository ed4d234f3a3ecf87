"""File > Export: the current image (PNG, scaled), the current latent (.npy / .json), the map view.
Each writes a recipe beside it; QFileDialog asks before replacing an existing name."""
from __future__ import annotations

from pathlib import Path

import pyqtgraph.exporters as pg_exporters
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QSpinBox

from latent_atlas.editor.core.export import export_latent, export_png, recipe_path, write_recipe
from latent_atlas.editor.core.recipe import make_recipe
from latent_atlas.models.checkpoints.atomic_io import atomic_write
from latent_atlas.models.errors import LatentAtlasError


class ScaleDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export image")
        self.scale = QSpinBox()
        self.scale.setRange(1, 16)
        self.scale.setValue(8)
        self.scale.setSuffix("×")
        self.smooth = QCheckBox("smooth (bicubic) instead of crisp pixels")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Scale", self.scale)
        form.addRow("", self.smooth)
        form.addRow(buttons)


class ExportActions:
    def __init__(self, window):
        self.window = window
        self.image_action = QAction("Export image…", window, shortcut=QKeySequence("Ctrl+E"),
                                    triggered=self.export_image_dialog)
        self.latent_action = QAction("Export latent…", window, triggered=self.export_latent_dialog)
        self.map_action = QAction("Export map view…", window, triggered=self.export_map_dialog)

    def actions(self) -> list[QAction]:
        return [self.image_action, self.latent_action, self.map_action]

    def _protected(self) -> list[Path]:
        loaded = self.window.state.loaded
        return [loaded.path] if loaded is not None else []

    def recipe(self, scale: int = 1, smooth: bool = False) -> dict:
        state = self.window.state
        return make_recipe(state.loaded.path, state.latent(), state.condition, base=state.current.base,
                           edits=[e for e in state.edits if e.weight], scale=scale, smooth=smooth,
                           module=state.loaded.origin)

    def _ready(self) -> bool:
        if self.window.state.current is None or self.window.decoded_view.image is None:
            self.window.show_error("Nothing to export", "Click the map first to make an image.")
            return False
        return True

    # -- the three exports, callable without dialogs (tests, scripts) ---------------------------------
    def export_image(self, path: str, scale: int = 1, smooth: bool = False) -> Path:
        return export_png(path, self.window.decoded_view.image, scale=scale, smooth=smooth,
                          recipe=self.recipe(scale, smooth), protected=self._protected())

    def export_latent(self, path: str) -> Path:
        return export_latent(path, self.window.state.latent(), recipe=self.recipe(), protected=self._protected())

    def export_map(self, path: str) -> Path:
        exporter = pg_exporters.ImageExporter(self.window.map.plot)

        def write(tmp: Path) -> None:
            if not exporter.export(toBytes=True).save(str(tmp), "PNG"):
                raise OSError(f"could not encode {path} as PNG")

        atomic_write(path, write)
        write_recipe(recipe_path(Path(path)),
                     {**self.recipe(), "map_projection": self.window.state.loaded.projection.method},
                     self._protected())
        return Path(path)

    # -- dialogs -----------------------------------------------------------------------------------------
    def _run(self, fn, *args) -> None:
        try:
            path = fn(*args)
        except (LatentAtlasError, OSError) as e:
            self.window.show_error("Export failed", str(e))
            return
        self.window.statusBar().showMessage(f"Exported {path}", 5000)

    def export_image_dialog(self) -> None:
        if not self._ready():
            return
        dialog = ScaleDialog(self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export image", "image.png", "PNG image (*.png)")
        if path:
            self._run(self.export_image, path, dialog.scale.value(), dialog.smooth.isChecked())

    def export_latent_dialog(self) -> None:
        if not self._ready():
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export latent", "latent.npy",
                                              "NumPy array (*.npy);;JSON recipe (*.json)")
        if path:
            self._run(self.export_latent, path)

    def export_map_dialog(self) -> None:
        if self.window.state.loaded is None or not self._ready():
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export map view", "map.png", "PNG image (*.png)")
        if path:
            self._run(self.export_map, path)
