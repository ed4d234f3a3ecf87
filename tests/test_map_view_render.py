"""Issue 15, finding 9, the map view: File > Export map view… and `latent-atlas render` of its recipe give the
same pixels, because both draw through editor/map/map_view_render.draw_map_view from what the recipe holds (the
projection and its options, the range, the colour, the plot's size, the cursor) and the model's own map."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from latent_atlas.main import main as cli_main
from latent_atlas.editor.core.projection_store import session_store
from tests.editor_helpers import click_map, open_and_wait


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGBA")).astype(int)


def zoomed_export(qtbot, window, tmp_path, name="map.png", colour=-1):
    emb = window.state.loaded.embedding.astype(np.float64)
    (lo_x, lo_y), (hi_x, hi_y) = emb.min(0).tolist(), emb.max(0).tolist()
    click_map(qtbot, window, lo_x + 0.4 * (hi_x - lo_x), lo_y + 0.5 * (hi_y - lo_y))    # the cursor is drawn
    qtbot.waitUntil(lambda: window.state.current.cursor is not None, timeout=5000)
    window.map.view.setRange(xRange=(lo_x + 0.1 * (hi_x - lo_x), lo_x + 0.7 * (hi_x - lo_x)),
                             yRange=(lo_y + 0.2 * (hi_y - lo_y), lo_y + 0.9 * (hi_y - lo_y)), padding=0)
    qtbot.wait(50)
    png = window.exports.export_map(str(tmp_path / name))
    return png, json.loads((tmp_path / f"{name}.recipe.json").read_text())


def render(tmp_path, recipe_name, out_name) -> np.ndarray:
    assert cli_main(["render", str(tmp_path / recipe_name), "--out", str(tmp_path / out_name)]) == 0
    return pixels(tmp_path / out_name)


def test_render_of_a_pca_map_view_equals_the_export(qtbot, window, digits_vae_path, tmp_path):
    open_and_wait(qtbot, window, digits_vae_path)
    png, recipe = zoomed_export(qtbot, window, tmp_path)
    view = recipe["map_view"]
    assert view["cursor"] == list(window.state.current.cursor) and view["method"] == "pca"
    exported = pixels(png)
    assert exported.shape[:2] == (view["size"][1], view["size"][0])
    rendered = render(tmp_path, "map.png.recipe.json", "rendered.png")
    assert rendered.shape == exported.shape and np.array_equal(rendered, exported)
    # negative control: another range is another picture
    (tmp_path / "moved.json").write_text(json.dumps(
        dict(recipe, map_view={**view, "range": [v * 0.5 for v in view["range"]]})))
    moved = render(tmp_path, "moved.json", "moved.png")
    assert np.abs(moved - exported).sum(-1).astype(bool).sum() > 2000
    assert not (tmp_path / "rendered.png.recipe.json").exists()


@pytest.mark.slow
def test_render_of_a_tsne_map_view_reads_the_kept_fit_and_equals_the_export(qtbot, window, digits_vae_path,
                                                                            tmp_path):
    open_and_wait(qtbot, window, digits_vae_path)
    with qtbot.waitSignal(window.controller.projection_ready, timeout=120_000):
        window.request_projection("tsne", max_iter=250)
    png, _recipe = zoomed_export(qtbot, window, tmp_path)
    session_store().clear()                    # as a new process: the fit comes back from the cache folder
    fits = session_store().fits_made
    rendered = render(tmp_path, "map.png.recipe.json", "rendered.png")
    assert np.array_equal(rendered, pixels(png))
    assert session_store().fits_made == fits   # read back, not fitted again


def test_render_refuses_a_map_view_of_other_data_in_one_line(qtbot, window, digits_vae_path, tmp_path, capsys):
    open_and_wait(qtbot, window, digits_vae_path)
    _png, recipe = zoomed_export(qtbot, window, tmp_path)
    (tmp_path / "other.json").write_text(json.dumps(dict(recipe, map_view={**recipe["map_view"],
                                                                           "fit_key": "f" * 64})))
    assert cli_main(["render", str(tmp_path / "other.json"), "--out", str(tmp_path / "x.png")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert "other.json" in err[0] and "not the exported one" in err[0]
    assert not (tmp_path / "x.png").exists()
