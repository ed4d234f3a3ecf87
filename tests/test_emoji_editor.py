"""The bundled RGB emoji models in the real window, offscreen, as on a fresh machine without the emoji packages:
the map comes from the bundled subset, and colour survives decode, original, hover thumbnail and export."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.data import emoji
from tests.editor_helpers import click_map, gan_sample_and_spread, open_and_wait

MODELS = ["emoji_vae", "emoji_cvae"]


@pytest.fixture
def fresh_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(emoji, "DEFAULT_FONT", tmp_path / "NotoColorEmoji.ttf")
    monkeypatch.setattr(emoji, "DEFAULT_TEST_FILE", tmp_path / "emoji-test.txt")


def colourful(image: np.ndarray) -> float:
    """Mean spread between the channels of an (H, W, 3) uint8 image: 0 for grey."""
    rgb = image.astype(np.int16)
    return float((rgb.max(-1) - rgb.min(-1)).mean())


@pytest.mark.parametrize("name", MODELS)
def test_a_bundled_emoji_model_opens_in_colour_with_its_subset_map(qtbot, window, fresh_machine, name, tmp_path):
    path = resource_path("models", f"{name}.safetensors")
    loaded = open_and_wait(qtbot, window, path)
    assert len(loaded.latents) == len(loaded.images) <= 384 and "bundled subset" in loaded.source_note
    assert window.decoded_view.image.shape == (64, 64, 3)
    assert colourful(window.decoded_view.image) > 5
    i = int(np.flatnonzero(loaded.attributes[:, loaded.attribute_names.index("tone-dark")] == 1)[0])
    click_map(qtbot, window, *loaded.embedding[i])
    qtbot.waitUntil(lambda: window.state.current.data_index == window.map.nearest(*loaded.embedding[i]),
                    timeout=10_000)
    j = window.state.current.data_index
    assert window.original_view.image.shape == (64, 64, 3)
    assert np.array_equal(window.original_view.image, loaded.images[j])
    window.map.show_thumbnail(j, window.map.view.mapViewToScene(
        __import__("PySide6.QtCore").QtCore.QPointF(*loaded.embedding[j])))
    assert window.map.thumbnail.isVisible()
    shot = tmp_path / f"{name}.png"
    window.grab().save(str(shot))
    assert colourful(np.asarray(Image.open(shot).convert("RGB"))) > 1


def test_your_own_colour_picture_is_encoded_in_colour(qtbot, window, fresh_machine, tmp_path):
    import torch

    from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
    from latent_atlas.editor.core.inversion import read_image
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

    path = resource_path("models", "emoji_vae.safetensors")
    loaded = open_and_wait(qtbot, window, path)
    picture = tmp_path / "my emoji.png"
    Image.fromarray(loaded.images[3]).resize((200, 200), Image.Resampling.LANCZOS).save(picture)
    window.own_image.open(str(picture))
    qtbot.waitUntil(lambda: window.state.current.source == "image", timeout=10_000)
    model = load_checkpoint(path).model.eval()
    x = read_image(picture, model.image_shape)
    assert x.shape == (3, 64, 64)
    with torch.inference_mode():
        mu, _ = model.encode(torch.from_numpy(x).float()[None] / 255)
        expected = images_to_hwc_uint8(model.decode(mu))[0]
    qtbot.waitUntil(lambda: np.array_equal(window.decoded_view.image, expected), timeout=5000)
    assert np.array_equal(window.original_view.image, x.transpose(1, 2, 0)) and colourful(x.transpose(1, 2, 0)) > 5


@pytest.mark.slow
@pytest.mark.skipif(not (emoji.DEFAULT_FONT.is_file() and emoji.DEFAULT_TEST_FILE.is_file()),
                    reason="apt-get install fonts-noto-color-emoji unicode-data")
def test_the_training_preview_of_an_emoji_cvae_is_in_colour(qtbot, tmp_path):
    from latent_atlas.editor.core.training_setup import form_for
    from latent_atlas.editor.training.training_panel import TrainingPanel

    panel = TrainingPanel()
    panel.confirm = lambda: True
    errors = []
    panel.error.connect(lambda title, msg: errors.append(msg))
    qtbot.addWidget(panel)
    panel.show()
    try:
        form = form_for("emoji", family="cvae", condition="attributes", epochs=1, batch_size=32, limit=64,
                        latent_dim=4, out=str(tmp_path / "emoji_cvae.safetensors"))
        panel.start(form)
        qtbot.waitUntil(lambda: panel.preview.count >= 1 or bool(errors), timeout=120_000)
        assert errors == []
        grid = panel.preview.image
        assert grid.ndim == 3 and grid.shape[2] == 3
    finally:
        panel.shutdown()


def test_the_bundled_emoji_gan_opens_in_colour_and_inverts_a_colour_picture(qtbot, window, tmp_path):
    import torch

    from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

    path = resource_path("models", "emoji_gan.safetensors")
    loaded = open_and_wait(qtbot, window, path)
    assert loaded.info.kind == "gan" and window.decoded_view.image.shape == (32, 32, 3)
    assert colourful(window.decoded_view.image) > 5
    model = load_checkpoint(path).model.eval()
    target, spread = gan_sample_and_spread(model, seed=5)
    picture = tmp_path / "a gan emoji.png"
    Image.fromarray(target).resize((96, 96), Image.Resampling.NEAREST).save(picture)   # the user's bigger copy
    window.own_image.open(str(picture))
    qtbot.waitUntil(lambda: window.state.current.source == "image", timeout=60_000)
    with torch.inference_mode():
        shown = images_to_hwc_uint8(model.decode(torch.from_numpy(window.state.current.base)[None]))[0]
    assert shown.shape == (32, 32, 3) and colourful(shown) > 5
    assert np.mean((shown / 255.0 - target / 255.0) ** 2) < 0.5 * spread       # nearer than other samples
