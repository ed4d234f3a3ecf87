"""Your own image through the real window: File > Open image… and drops, VAE encoding, GAN inversion, errors."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QPushButton

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.editor.core.inversion import read_image
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.data import load_dataset
from tests.editor_helpers import gan_sample_and_spread, open_and_wait


def write_png(path, image_hw: np.ndarray, scale: int = 4):
    """A user's picture: bigger than the model's input, so the editor has to resize it."""
    Image.fromarray(image_hw).resize((image_hw.shape[1] * scale, image_hw.shape[0] * scale),
                                     Image.Resampling.NEAREST).save(path)
    return path


def drop(window, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_vae_shows_the_reconstruction_of_your_image(qtbot, window, digits_vae_path, tmp_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    path = write_png(tmp_path / "my digit.png", load_dataset("digits").images[7][0])
    window.own_image.open(str(path))
    qtbot.waitUntil(lambda: window.state.current.source == "image", timeout=10_000)
    model = load_checkpoint(digits_vae_path).model.eval()
    x = read_image(path, model.image_shape)
    with torch.inference_mode():
        mu, _ = model.encode(torch.from_numpy(x).float()[None] / 255)
        expected = images_to_hwc_uint8(model.decode(mu))[0]
    assert np.allclose(window.state.current.base, mu[0].numpy(), atol=1e-5)
    qtbot.waitUntil(lambda: np.array_equal(window.decoded_view.image, expected), timeout=5000)
    assert np.array_equal(window.original_view.image, x.transpose(1, 2, 0))    # your image beside it
    mx, my = window.own_image.marker.getData()
    assert len(mx) == 1 and np.allclose([mx[0], my[0]], loaded.projection.transform(mu.numpy())[0], atol=1e-5)
    assert "my digit.png" in window.statusBar().currentMessage()


def test_gan_inverts_an_image_it_made_itself(qtbot, window, digits_gan_path, tmp_path):
    open_and_wait(qtbot, window, digits_gan_path)
    model = load_checkpoint(digits_gan_path).model.eval()
    target, spread = gan_sample_and_spread(model, seed=11)
    path = write_png(tmp_path / "gan_sample.png", target[..., 0], scale=1)
    window.own_image.open(str(path))
    qtbot.waitUntil(lambda: window.own_image.progress is not None, timeout=10_000)   # progress, with Cancel
    assert "gan_sample.png" in window.own_image.progress.labelText()
    qtbot.waitUntil(lambda: window.state.current.source == "image", timeout=60_000)
    assert window.own_image.progress is None
    z = window.state.current.base
    with torch.inference_mode():
        shown = images_to_hwc_uint8(model.decode(torch.from_numpy(z)[None]))[0]
    assert np.mean((shown / 255.0 - target / 255.0) ** 2) < 0.05 * spread
    qtbot.waitUntil(lambda: np.array_equal(window.decoded_view.image, shown), timeout=5000)
    assert len(window.own_image.marker.getData()[0]) == 1


def test_cancelling_an_inversion_leaves_the_current_image(qtbot, window, digits_gan_path, tmp_path):
    open_and_wait(qtbot, window, digits_gan_path)
    before = window.state.current
    path = write_png(tmp_path / "noise.png", np.random.default_rng(0).integers(0, 255, (8, 8), dtype=np.uint8))
    window.own_image.open(str(path))
    qtbot.waitUntil(lambda: window.own_image.job is not None, timeout=10_000)
    with qtbot.waitSignal(window.own_image.job.cancelled, timeout=30_000):
        window.own_image.progress.findChild(QPushButton).click()     # the dialog's Cancel button
    assert window.own_image.job is None and window.own_image.progress is None
    assert window.state.current is before and "cancelled" in window.statusBar().currentMessage()


def test_bad_image_file_gives_an_error_that_names_it(qtbot, window, digits_vae_path, tmp_path):
    open_and_wait(qtbot, window, digits_vae_path)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    window.own_image.open(str(bad))
    assert window.errors and "broken.png" in window.errors[-1]
    assert window.state.current.source != "image"


def test_drop_routes_images_to_your_image_and_checkpoints_to_open(qtbot, window, digits_vae_path,
                                                                 digits_cvae_path, tmp_path):
    open_and_wait(qtbot, window, digits_vae_path)
    picture = write_png(tmp_path / "dropped.bmp", load_dataset("digits").images[2][0])
    drop(window, picture)
    qtbot.waitUntil(lambda: window.state.current.source == "image", timeout=10_000)
    assert window.state.loaded.path == digits_vae_path
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60_000):
        drop(window, digits_cvae_path)                # a checkpoint is sniffed by the loader, not PIL
    assert window.state.loaded.path == digits_cvae_path and not window.errors


def test_a_tiny_image_is_refused_and_a_resized_one_says_so(qtbot, window, digits_vae_path, tmp_path):
    """Issue 15, finding 11: a 3x3 image was upscaled to 28x28 and encoded without a word."""
    from latent_atlas.editor.core.inversion import ImageFileError, read_image_noted

    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.full((3, 3), 200, np.uint8)).save(tiny)
    try:
        read_image_noted(tiny, (1, 28, 28))
        raise AssertionError("a 3x3 image for a 28x28 model must be refused")
    except ImageFileError as e:
        assert "tiny.png" in str(e) and "3x3" in str(e) and "too small" in str(e)
    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(wide)
    assert read_image_noted(wide, (1, 28, 28))[1] == "20x10 enlarged 2.8x, centre cropped to 28x28"
    assert read_image_noted(wide, (3, 5, 10))[1] == "20x10 reduced 2.0x to 10x5"
    assert read_image_noted(wide, (3, 10, 20))[1] == ""

    open_and_wait(qtbot, window, digits_vae_path)                  # an 8x8 model
    one = tmp_path / "one pixel.png"
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(one)
    window.own_image.open(str(one))
    assert window.errors and "one pixel.png" in window.errors[-1] and "too small" in window.errors[-1]
    assert window.state.current.source != "image"
    small = write_png(tmp_path / "small.png", load_dataset("digits").images[3][0][::2, ::2], scale=1)
    window.own_image.open(str(small))
    qtbot.waitUntil(lambda: window.state.current.source == "image", timeout=10_000)
    assert "small.png (4x4 enlarged 2.0x to 8x8)" in window.statusBar().currentMessage()
