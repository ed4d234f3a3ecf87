"""The main window driven as a user would, on real checkpoints, under the offscreen platform."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.editor.core.loaded_model import FIRST_POOL, typical_index
from latent_atlas.editor.core.render import render_recipe
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from tests.editor_helpers import click_map, empty_spot, open_and_wait, view_to_widget


def decode_reference(path, z, c=None):
    model = load_checkpoint(path).model
    with torch.inference_mode():
        out = model.decode(torch.from_numpy(np.asarray(z, np.float32))[None],
                           None if c is None else torch.from_numpy(np.asarray(c, np.float32)))
    return images_to_hwc_uint8(out)[0]


def test_open_shows_map_and_first_image(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    assert loaded.embedding.shape == (len(loaded.latents), 2)
    shown = sum(len(item.data) for item in window.map._groups)
    assert shown == len(loaded.latents) > 100
    assert window.decoded_view.image.shape == (8, 8, 1)
    assert "vae" in window.model_label.text()
    # the first image is a typical data point: the middle of the densest cluster of the first batch encoded
    assert window.state.current.data_index == typical_index(loaded.latents[:FIRST_POOL]) == loaded.start_index


def test_click_on_empty_map_decodes_the_inverse_of_that_point(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    x, y = empty_spot(loaded, window)
    before = window.decoded_view.image.copy()
    click_map(qtbot, window, x, y)
    qtbot.waitUntil(lambda: window.state.current.source == "map", timeout=5000)
    cx, cy = window.state.current.cursor
    z = loaded.projection.inverse(np.array([[cx, cy]], np.float32))[0]
    expected = decode_reference(digits_vae_path, z)
    qtbot.waitUntil(lambda: np.array_equal(window.decoded_view.image, expected), timeout=5000)
    assert abs(cx - x) < 0.05 * np.ptp(loaded.embedding[:, 0]) and not np.array_equal(before, expected)
    # the cursor marker sits where the user clicked
    assert window.map.cursor_position() == pytest.approx((cx, cy), abs=1e-6)


def test_click_on_a_data_point_shows_original_and_reconstruction(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    i = 7
    click_map(qtbot, window, *loaded.embedding[i])
    qtbot.waitUntil(lambda: window.state.current.data_index is not None
                    and window.state.current.data_index == window.map.nearest(*loaded.embedding[i]), timeout=5000)
    j = window.state.current.data_index
    assert np.array_equal(window.original_view.image, loaded.images[j])
    expected = decode_reference(digits_vae_path, loaded.latents[j])
    qtbot.waitUntil(lambda: np.array_equal(window.decoded_view.image, expected), timeout=5000)


def test_hover_shows_the_nearest_thumbnail(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    i = 11
    pos = window.map.view.mapViewToScene(__import__("PySide6.QtCore").QtCore.QPointF(*loaded.embedding[i]))
    window.map._on_scene_mouse_moved((pos,))
    assert window.map.thumbnail.isVisible()
    j = window.map.nearest(*loaded.embedding[i])
    assert np.allclose(loaded.embedding[j], loaded.embedding[i], atol=1e-3 * np.ptp(loaded.embedding))
    assert window.map.thumbnail.caption.text().startswith(f"#{j}")
    x, y = empty_spot(loaded, window)
    window.map._on_scene_mouse_moved((window.map.view.mapViewToScene(view_to_widget(window, x, y).toPointF()),))
    assert not window.map.thumbnail.isVisible()


def test_projection_switch_to_tsne(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    pca = loaded.embedding.copy()
    shown = []       # the bar and its line while t-SNE runs (issue 15, finding 7: it was indeterminate)
    window.controller.projection_progress.connect(
        lambda f, m: shown.append((window.progress.maximum(), window.progress.value(), window.progress_label.text())))
    with qtbot.waitSignal(window.controller.projection_ready, timeout=120_000):
        window.request_projection("tsne")
    assert loaded.projection.method == "tsne"
    assert loaded.embedding.shape == pca.shape and not np.allclose(loaded.embedding, pca)
    assert len({value for _, value, _ in shown}) >= 10 and all(top == 1000 for top, _, _ in shown)
    assert any("left" in text and "%" in text for _, _, text in shown), shown[-3:]


def test_the_progress_line_names_the_projection_and_warns_of_umaps_first_compilation(window, monkeypatch):
    import latent_atlas.editor.window_status as window_status

    class Worker:
        pid = None

    monkeypatch.setattr(window_status, "shared_worker", lambda: Worker)
    c = window.controller
    c.projection_started.emit("tsne")
    assert window.progress_label.text() == "Computing t-SNE…" and window.progress.isVisible()
    c.projection_started.emit("umap")                        # no worker yet: the compilation is ahead
    text = window.progress_label.text()
    assert text.startswith("Computing UMAP…") and "compiles" in text
    Worker.pid = 4242
    c.projection_started.emit("umap")
    c.projection_ready.emit("umap")                          # the worker 4242 has compiled UMAP
    assert not window.progress.isVisible()
    c.projection_started.emit("umap")
    assert window.progress_label.text() == "Computing UMAP…"
    Worker.pid = 4343                                        # a cancel replaced the worker: cold again
    c.projection_started.emit("umap")
    assert "compiles" in window.progress_label.text()


def test_pca_components_choice(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    with qtbot.waitSignal(window.controller.projection_ready, timeout=10_000):
        window.request_projection("pca", components=(0, 2))
    z = loaded.projection.inverse(np.array([[0.5, -0.5]], np.float32))
    assert np.allclose(loaded.projection.transform(z), [[0.5, -0.5]], atol=1e-4)


def test_export_image_writes_png_and_recipe_that_renders_the_same(qtbot, window, digits_vae_path, tmp_path):
    open_and_wait(qtbot, window, digits_vae_path)
    out = window.exports.export_image(str(tmp_path / "img.png"), scale=4)
    img = np.asarray(Image.open(out))
    assert img.shape == (32, 32)
    assert np.array_equal(img[::4, ::4], window.decoded_view.image[..., 0])
    recipe = json.loads((tmp_path / "img.png.recipe.json").read_text())
    assert recipe["checkpoint_sha256"] and len(recipe["latent"]) == 4
    again = render_recipe(tmp_path / "img.png.recipe.json", tmp_path / "again.png")
    assert np.array_equal(np.asarray(Image.open(again)), img)
    latent = window.exports.export_latent(str(tmp_path / "z.npy"))
    assert np.array_equal(np.load(latent), window.state.latent())
    map_png = window.exports.export_map(str(tmp_path / "map.png"))
    assert Image.open(map_png).size[0] > 100


def test_export_never_overwrites_the_open_checkpoint(qtbot, window, digits_vae_path):
    open_and_wait(qtbot, window, digits_vae_path)
    before = digits_vae_path.read_bytes()
    window.exports._run(window.exports.export_image, str(digits_vae_path))
    assert digits_vae_path.read_bytes() == before
    assert "refusing to overwrite" in window.errors[-1]


# a pickle is offered for conversion first: tests/test_convert_offer.py has the one that does not convert
@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"])
def test_bad_file_shows_dialog_and_keeps_the_model(qtbot, window, digits_vae_path, tmp_path, content):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    with qtbot.waitSignal(window.controller.load_failed, timeout=10_000):
        window.open_path(str(bad))
    assert "bad.safetensors" in window.errors[-1]
    assert window.last_error_box.isVisible()
    assert window.state.loaded is loaded
    x, y = empty_spot(loaded, window)
    click_map(qtbot, window, x, y)   # still usable
    qtbot.waitUntil(lambda: window.state.current.source == "map", timeout=5000)


def test_open_each_family(qtbot, window, digits_cvae_path, digits_gan_path):
    loaded = open_and_wait(qtbot, window, digits_cvae_path)
    assert loaded.conditions.shape == (len(loaded.latents), 10)
    assert "source: data" in window.info.text()
    loaded = open_and_wait(qtbot, window, digits_gan_path)
    assert not loaded.model.can_encode and "prior" in loaded.source_note
    assert not window.original_view.isVisible()
    assert "source: map sample" in window.info.text()        # a GAN's map points are prior samples


def test_colour_by_attribute_on_a_shapes_model(qtbot, window, tmp_path):
    from latent_atlas.models.checkpoints.checkpoint import save_checkpoint
    from latent_atlas.models.config import VAEConfig
    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.registry import build_model

    data = load_dataset("shapes", split="test", image_size=28, limit=300)
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "shapes.safetensors",
                           build_model("vae", VAEConfig(image_shape=(1, 28, 28), latent_dim=4, width=8, hidden=32)),
                           dataset=data.describe())
    window.controller.map_limit = 300
    loaded = open_and_wait(qtbot, window, path)
    assert window.map_toolbar.colour.count() == 1 + len(loaded.attribute_names)
    j = loaded.attribute_names.index("left")
    window.colour_map_by(j)
    sizes = sorted(len(item.data) for item in window.map._groups)
    with_attr = int((loaded.attributes[:, j] > 0.5).sum())
    assert sizes == sorted([len(loaded.latents) - with_attr, with_attr])
    window.colour_map_by(-1)
    assert len(window.map._groups) == 3   # square, ellipse, heart


STAGED_START = """
import builtins, sys
from latent_atlas.editor.app import create_window, finish_startup
app, window = create_window(device="cpu", complete=False)
window.show()
app.processEvents()
heavy = sorted(m for m in ("torch", "scipy", "sklearn") if m in sys.modules)
print("before", heavy, window.map.isVisible(), window.tools.count(), flush=True)
hook = builtins.__import__
finish_startup(window)
print("after", "torch" in sys.modules, window.tools.count(), len(window.device_actions),
      builtins.__import__ is hook, flush=True)
window.controller.shutdown()
"""


def test_the_window_is_on_screen_before_torch_is_imported():
    """latent-atlas shows its window first and imports torch, scipy and scikit-learn after (start-up)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", STAGED_START], cwd=Path(__file__).resolve().parents[1], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    before, after = [line.split(" ", 1)[1] for line in out.stdout.splitlines() if line.split(" ")[0] in
                     ("before", "after")]
    assert before == "[] True 0"                       # the map is shown, no heavy module loaded yet
    loaded, tools, devices, hook_back = after.split()
    assert loaded == "True" and int(tools) >= 6 and int(devices) >= 1
    assert hook_back == "True"                         # PySide6's import hook is back after the heavy imports


@pytest.mark.slow     # real processes, 6-10 s: .ci/run's -m slow runs it
def test_the_editor_command_starts_renders_and_exits(digits_vae_path, tmp_path):
    """`latent-atlas --screenshot` runs the real start-up (window first, torch after) to a PNG and exits 0;
    a device the machine lacks ends it with one line and exit 1."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, "main.py", "--open", str(digits_vae_path), "--device", "cpu",
                           "--screenshot", str(out)], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Image.open(out) as shot:
        assert shot.size[0] >= 800 and shot.size[1] >= 500
        assert len(set(np.asarray(shot.convert("L")).ravel()[::97].tolist())) > 20   # not a blank window
    if not torch.cuda.is_available():
        bad = subprocess.run([sys.executable, "main.py", "--device", "cuda", "--screenshot", str(tmp_path / "x.png")],
                             cwd=root, env=env, capture_output=True, text=True, timeout=300)
        lines = [line for line in bad.stderr.splitlines() if "propagateSizeHints" not in line]
        assert bad.returncode == 1 and len(lines) == 1 and "cuda" in lines[0] and "Traceback" not in bad.stderr
        assert not (tmp_path / "x.png").exists()


def test_a_failed_open_with_nothing_open_says_how_to_open_one(qtbot, window, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(window.controller.load_failed, timeout=30_000):
        window.open_path(str(bad))
    assert "broken.safetensors" in window.errors[-1]
    assert "No model open" in window.map.plot.titleLabel.text


@pytest.mark.parametrize("size", [(1200, 760), (1400, 860)])
def test_switching_tool_tabs_keeps_the_image_size(qtbot, window, digits_gan_path, size):
    """Tabs with different size hints must not re-divide the right column (the images jumped by ~40 px)."""
    window.resize(*size)
    open_and_wait(qtbot, window, digits_gan_path)
    heights = set()
    for i in range(window.tools.count()):
        window.tools.setCurrentIndex(i)
        qtbot.wait(50)
        heights.add(window.decoded_view.height())
    assert len(heights) == 1, heights
