"""One drawing of a map view, for File > Export map view… and for `latent-atlas render` of its recipe (issue 15,
finding 9: exported pixels equal the render of the recipe).

The export draws a fresh LatentMap, never shown on screen, at the plot size the recipe records: the open model's
map points coloured as recorded, the recorded range and title, the cursor ring where the current point is. The
live map's transient marks (a strip's path, a lasso outline, the hover thumbnail, your image's marker) are not
in it, and its level of detail is chosen afresh for the range, so what is drawn depends only on what the recipe
holds and on the model's map: `render` loads the same checkpoint and data, fits (or reads back) the same
projection and calls the same function.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from latent_atlas.editor.map.latent_map import LatentMap
from latent_atlas.editor.map.map_toolbar import method_name
from latent_atlas.editor.widgets.plain_text import html_text


def map_colouring(loaded, attribute: int) -> tuple[np.ndarray | None, list[str]]:
    """Labels and their names for the map's colours: -1 by label, j two colours, without and with attribute j."""
    if attribute >= 0 and loaded.attributes is not None and attribute < len(loaded.attribute_names):
        name = loaded.attribute_names[attribute]
        return (loaded.attributes[:, attribute] > 0.5).astype(np.int64), [f"not {name}", name]
    return loaded.labels, loaded.label_names


def draw_map_view(loaded, map_view: dict) -> QImage:
    """The map view `map_view` (a recipe's, editor/core/recipe.MAP_VIEW_SCHEMA) of `loaded` (its embedding from
    the projection the view names) as an image of the plot's recorded size."""
    from pyqtgraph import exporters as pg_exporters

    width, height = map_view.get("size") or (640, 480)
    view = LatentMap()
    view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)   # laid out and drawn, never on screen
    try:
        labels, names = map_colouring(loaded, int(map_view.get("colour_by", -1)))
        view.set_points(loaded.embedding, labels, names, None, title="")
        view.plot.setTitle(html_text(f"{method_name(loaded.projection.method)} of {loaded.source_note}"), size="9pt")
        view.resize(width, height)
        view.show()
        for _ in range(4):                    # the plot item's size follows the widget's after a layout pass
            QApplication.processEvents()
            size = view.plot.size()
            if (round(size.width()), round(size.height())) == (width, height):
                break
            view.resize(view.width() + width - round(size.width()), view.height() + height - round(size.height()))
        x0, x1, y0, y1 = map_view["range"]
        view.view.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        if map_view.get("cursor") is not None:
            view.set_cursor(*map_view["cursor"])
        QApplication.processEvents()
        return pg_exporters.ImageExporter(view.plot).export(toBytes=True)
    finally:
        view.close()
        view.deleteLater()


def render_map_view(recipe_file, out, checkpoint: str | None = None) -> Path:
    """`latent-atlas render` of a map view's recipe: OUT.png drawn as the export drew it. The checkpoint is
    opened with the data it records (as many map points as the export had), the projection read back from the
    kept fits or fitted with the recorded options; RecipeError when the map would not be the exported one."""
    import os

    import pyqtgraph as pg
    import torch

    from latent_atlas.editor.core.export import refuse_protected
    from latent_atlas.editor.core.loaded_model import load_for_editor
    from latent_atlas.editor.core.projection_store import fit_key, session_store
    from latent_atlas.editor.core.recipe import RecipeError, read_recipe
    from latent_atlas.models.checkpoints.atomic_io import atomic_write

    recipe = read_recipe(recipe_file)
    view = recipe.get("map_view")
    if view is None:
        raise RecipeError(f"{Path(recipe_file).name}: not the recipe of a map view")
    ckpt = Path(checkpoint or recipe["checkpoint"])
    refuse_protected(out, [Path(recipe_file), ckpt])
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([])   # noqa: F841  (drawing needs one)
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)   # as editor.app.create_window
    loaded = load_for_editor(ckpt, device=torch.device("cpu"), map_limit=int(view.get("points") or 10_000))
    method, params = view["method"], dict(view["params"])
    key = fit_key(loaded.sha256, loaded.latents, method, params)
    if view.get("fit_key") and key != view["fit_key"]:
        raise RecipeError(f"{Path(recipe_file).name}: the map of {ckpt.name} is not the exported one\n"
                          f"its data or the checkpoint differ from the export's (fit {view['fit_key'][:12]}…, "
                          f"now {key[:12]}…)")
    if view.get("points") is not None and len(loaded.latents) != view["points"]:
        raise RecipeError(f"{Path(recipe_file).name}: the map had {view['points']} points; {ckpt.name}'s data "
                          f"gives {len(loaded.latents)}")
    projection = session_store().get_or_fit(key, method, params, loaded.latents)
    loaded.projection, loaded.embedding = projection, projection.embedding
    image = draw_map_view(loaded, view)

    def write(tmp: Path) -> None:
        if not image.save(str(tmp), "PNG"):
            raise OSError(f"could not encode {out} as PNG")
    atomic_write(Path(out), write)
    return Path(out)
