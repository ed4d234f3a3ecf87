"""File > Export: the current image (PNG, scaled), the current latent (.npy / .json), the map view.
Each writes a recipe beside it; QFileDialog asks before replacing an existing name."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QSpinBox

from latent_atlas.editor.core.export import export_latent, export_png, recipe_path, write_recipe
from latent_atlas.editor.core.recipe import make_recipe
from latent_atlas.editor.files.window_feedback import WindowFeedback
from latent_atlas.editor.widgets.save_places import remember, start_path
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
    def __init__(self, state, controller, feedback: WindowFeedback, decoded_view, latent_map, map_toolbar,
                 colour_map_by: Callable[[int], None]):
        """`decoded_view` holds the image exported; `latent_map` and `map_toolbar` the map view (drawn,
        ranged, coloured by the toolbar's box); `colour_map_by`: the window's, which colours the map."""
        self._state, self._controller, self._feedback = state, controller, feedback
        self._decoded_view, self._map, self._map_toolbar = decoded_view, latent_map, map_toolbar
        self._colour_map_by = colour_map_by
        parent = feedback.parent
        self.image_action = QAction("Export image…", parent, shortcut=QKeySequence("Ctrl+E"),
                                    triggered=self.export_image_dialog)
        self.latent_action = QAction("Export latent…", parent, triggered=self.export_latent_dialog)
        self.map_action = QAction("Export map view…", parent, triggered=self.export_map_dialog)
        self.show_map_action = QAction("Show map view of a recipe…", parent, triggered=self.show_map_view_dialog)

    def actions(self) -> list[QAction]:
        return [self.image_action, self.latent_action, self.map_action, self.show_map_action]

    def _protected(self) -> list[Path]:
        loaded = self._state.loaded
        return [loaded.path] if loaded is not None else []

    def recipe(self, scale: int = 1, smooth: bool = False) -> dict:
        state = self._state
        return make_recipe(state.loaded.path, state.latent(), state.condition, base=state.current.base,
                           edits=[e for e in state.edits if e.weight], scale=scale, smooth=smooth,
                           module=state.loaded.origin)

    def _ready(self) -> bool:
        if self._state.current is None or self._decoded_view.image is None:
            self._feedback.show_error("Nothing to export", "Click the map first to make an image.")
            return False
        return True

    # -- the three exports, callable without dialogs (tests, scripts) ---------------------------------
    def export_image(self, path: str, scale: int = 1, smooth: bool = False) -> Path:
        return export_png(path, self._decoded_view.image, scale=scale, smooth=smooth,
                          recipe=self.recipe(scale, smooth), protected=self._protected())

    def export_latent(self, path: str) -> Path:
        return export_latent(path, self._state.latent(), recipe=self.recipe(), protected=self._protected())

    def export_map(self, path: str) -> Path:
        """The map view: points, colours, range, title and cursor drawn by editor/map/map_view_render.py at the
        plot's size, the same drawing `latent-atlas render` makes of its recipe (issue 15, finding 9). The live
        map's transient marks (a strip's path, a lasso, your image's marker) are not in it."""
        from latent_atlas.editor.map.map_view_render import draw_map_view

        view = self.map_view()
        image = draw_map_view(self._state.loaded, view)

        def write(tmp: Path) -> None:
            if not image.save(str(tmp), "PNG"):
                raise OSError(f"could not encode {path} as PNG")

        recipe = {**self.recipe(), "map_view": view}
        atomic_write(path, write)
        write_recipe(recipe_path(Path(path)), recipe, self._protected())
        return Path(path)

    def map_view(self) -> dict:
        """What the exported map shows: the projection and its options, the range in map units, the colour,
        the plot's size in pixels, and which fit of which data (the projection store's key)."""
        from latent_atlas.editor.core.projection_store import fit_key

        loaded, view = self._state.loaded, self._map.view
        projection = loaded.projection
        (x0, x1), (y0, y1) = view.viewRange()
        size = self._map.plot.size()
        colour = self._map_toolbar.colour.currentData()
        return {"method": projection.method, "params": projection.params(), "range": [float(v) for v in (x0, x1, y0, y1)],
                "colour_by": -1 if colour is None else int(colour),
                "size": [round(size.width()), round(size.height())], "points": int(len(loaded.embedding)),
                "fit_key": fit_key(loaded.sha256, loaded.latents, projection.method, projection.params()),
                "cursor": self._cursor()}

    def _cursor(self) -> list[float] | None:
        point = self._state.current
        return None if point is None or point.cursor is None else [float(v) for v in point.cursor]

    def show_map_view(self, map_view: dict) -> None:
        """The map as a recipe's map_view recorded it, on the model open now: its projection (kept fits
        come back at once; others are fitted first), colour and range. The window keeps its own size."""
        def frame() -> None:
            (x0, x1, y0, y1) = map_view["range"]
            self._map.view.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

        colour = int(map_view.get("colour_by", -1))
        index = self._map_toolbar.colour.findData(colour)
        if index >= 0:
            self._map_toolbar.colour.setCurrentIndex(index)
            self._colour_map_by(colour)
        loaded = self._state.loaded
        method, params = map_view["method"], dict(map_view["params"])
        if loaded.projection.method == method and loaded.projection.params() == params:
            frame()
            return
        controller = self._controller

        def ended(framed: bool) -> None:       # once: the fit's end frames the view; a failure, a Cancel or
            controller.projection_ready.disconnect(on_ready)         # another fit asked for meanwhile does not
            controller.projection_failed.disconnect(on_failed)
            controller.projection_cancelled.disconnect(on_cancelled)
            if framed:
                frame()

        def on_ready(ready_method: str) -> None:
            shown = self._state.loaded.projection if self._state.loaded is loaded else None
            ended(shown is not None and ready_method == method and shown.params() == params)

        def on_failed(_message: str) -> None:
            ended(False)

        def on_cancelled(_method: str) -> None:
            ended(False)

        controller.projection_ready.connect(on_ready)
        controller.projection_failed.connect(on_failed)
        controller.projection_cancelled.connect(on_cancelled)
        # not window.request_projection: it skips a t-SNE already shown, whatever its options
        self._map_toolbar.select(method)
        controller.set_projection(method, **params)

    def show_map_view_file(self, path: str) -> Path:
        """A map view's recipe (File > Export map view…) shown again on the model open now, if it is its model.
        RecipeError names the file and what does not fit."""
        from latent_atlas.editor.core.recipe import RecipeError, read_recipe

        recipe = read_recipe(path)
        loaded = self._state.loaded
        if recipe.get("map_view") is None:
            raise RecipeError(f"{Path(path).name}: not the recipe of a map view (File > Export map view… writes "
                              f"those)")
        if loaded is None or recipe.get("checkpoint_sha256") not in (None, loaded.sha256):
            raise RecipeError(f"{Path(path).name}: made on another model\nits checkpoint: {recipe['checkpoint']}")
        self.show_map_view(recipe["map_view"])
        return Path(path)

    # -- dialogs -----------------------------------------------------------------------------------------
    def _run(self, fn, *args) -> None:
        try:
            path = fn(*args)
        except (LatentAtlasError, OSError) as e:
            self._feedback.show_error("Export failed", str(e))
            return
        self._feedback.status.showMessage(f"Exported {path}", 5000)

    def export_image_dialog(self) -> None:
        if not self._ready():
            return
        dialog = ScaleDialog(self._feedback.parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        path, _ = QFileDialog.getSaveFileName(self._feedback.parent, "Export image", start_path("image.png"),
                                              "PNG image (*.png)")
        if path:
            remember(path)
            self._run(self.export_image, path, dialog.scale.value(), dialog.smooth.isChecked())

    def export_latent_dialog(self) -> None:
        if not self._ready():
            return
        path, _ = QFileDialog.getSaveFileName(self._feedback.parent, "Export latent", start_path("latent.npy"),
                                              "NumPy array (*.npy);;JSON recipe (*.json)")
        if path:
            remember(path)
            self._run(self.export_latent, path)

    def show_map_view_dialog(self) -> None:
        if self._state.loaded is None:
            self._feedback.show_error("No model open", "Open the model the map view was exported from first.")
            return
        path, _ = QFileDialog.getOpenFileName(self._feedback.parent, "Show map view of a recipe", "",
                                              "Map view recipe (*.recipe.json);;JSON (*.json)")
        if path:
            try:
                self.show_map_view_file(path)
            except (LatentAtlasError, OSError) as e:
                self._feedback.show_error("Cannot show that map view", str(e))

    def export_map_dialog(self) -> None:
        if self._state.loaded is None or not self._ready():
            return
        path, _ = QFileDialog.getSaveFileName(self._feedback.parent, "Export map view", start_path("map.png"),
                                              "PNG image (*.png)")
        if path:
            remember(path)
            self._run(self.export_map, path)
