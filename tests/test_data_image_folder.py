"""Image folders: a zoo of good and bad files, every bad one reported by name, good ones loaded right."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latent_atlas.models.data import load_dataset
from latent_atlas.models.data.image_folder import load_image_folder
from latent_atlas.models.errors import DatasetError


def noise(w: int, h: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    c = {"RGB": 3, "L": 1, "CMYK": 4}[mode]
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)
    return Image.fromarray(arr[..., 0] if c == 1 else arr, mode=None if mode != "CMYK" else "CMYK")


def only_image(folder: Path, **kwargs) -> np.ndarray:
    """(C, H, W) of the single image a folder holds, after checking nothing was skipped."""
    data = load_image_folder(folder, **kwargs)
    assert data.skipped == [] and len(data) == 1
    return data.images[0]


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)   # bombs are tiny here, the check is the same
    root = tmp_path / "zoo"
    cats, dogs = root / "cats", root / "dogs"
    cats.mkdir(parents=True)
    dogs.mkdir()
    noise(40, 30).save(cats / "good.png")
    noise(150, 60, seed=1).save(cats / "wide.PNG")                         # wrong size, upper-case extension
    noise(1, 1, "L").save(cats / "dot.bmp")
    noise(64, 64, "CMYK").save(cats / "cmyk.jpg")
    noise(32, 32).convert("P").save(cats / "palette.png")
    Image.new("RGBA", (20, 20), (255, 0, 0, 128)).save(cats / "rgba.png")
    frames = [Image.new("L", (16, 16), v) for v in (255, 0)]
    frames[0].save(cats / "anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(dogs / "deep.png")
    noise(64, 64, seed=2).save(dogs / "photo.jpg")
    full = (dogs / "photo.jpg").read_bytes()
    (dogs / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (dogs / "empty.png").write_bytes(b"")
    (dogs / "letter.jpg").write_text("Dear colleague, this is not a JPEG.\n")
    Image.new("L", (101, 100)).save(dogs / "bomb.png")                  # 10,100 pixels > 10,000
    Image.new("L", (150, 150)).save(dogs / "big-bomb.png")              # over 2x: PIL itself refuses
    Image.new("L", (100, 100)).save(dogs / "at-limit.png")              # exactly at the limit: fine
    (dogs / "readme.txt").write_text("not an image extension: ignored, not reported")
    (root / ".hidden.png").write_bytes(b"")
    return root


BAD = {
    "dogs/truncated.jpg": "truncated",
    "dogs/empty.png": "empty file",
    "dogs/letter.jpg": "not an image",
    "dogs/bomb.png": "decompression bomb: 101 x 100 pixels",
    "dogs/big-bomb.png": "decompression bomb",
}
GOOD = {"cats": ["anim.gif", "cmyk.jpg", "dot.bmp", "good.png", "palette.png", "rgba.png", "wide.PNG"],
        "dogs": ["at-limit.png", "deep.png", "photo.jpg"]}


def test_zoo_reports_each_bad_file_and_loads_the_good_ones(zoo):
    data = load_dataset(str(zoo))
    reasons = dict(data.skipped)
    assert set(reasons) == set(BAD)
    for name, reason in BAD.items():
        assert reason in reasons[name], (name, reasons[name])
    assert data.label_names == ["cats", "dogs"] and data.name == "zoo"
    assert data.images.shape == (10, 3, 64, 64) and data.images.dtype == np.uint8   # colour present: RGB
    assert data.labels.tolist() == [0] * len(GOOD["cats"]) + [1] * len(GOOD["dogs"])
    assert data.describe()["n_skipped"] == 5


def test_zoo_limit_counts_good_images(zoo):
    data = load_image_folder(zoo, limit=8, image_size=16, channels=1)
    assert data.images.shape == (8, 1, 16, 16)
    assert data.labels.tolist() == [0] * 7 + [1]


def test_no_good_image_names_the_folder(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_text("nope")
    with pytest.raises(DatasetError, match="junk.*no readable image.*a.png: not an image"):
        load_dataset(str(tmp_path / "junk"))


def test_sixteen_bit_values_are_scaled_not_clipped(tmp_path):
    values = np.array([[65535, 32768], [257, 0]], np.uint16).repeat(4, 0).repeat(4, 1)
    Image.fromarray(values).save(tmp_path / "deep.png")
    img = only_image(tmp_path, image_size=8)
    assert img.shape == (1, 8, 8)                                          # all grayscale: one channel
    assert img[0, 0, 0] == 255 and img[0, 0, 7] == 128 and img[0, 7, 0] == 1 and img[0, 7, 7] == 0


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((32, 64), np.uint8)
    stored[:, :32] = 255                                                   # white on the stored left
    exif = Image.Exif()
    exif[0x0112] = 6                                                       # display rotated 90 clockwise
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    img = only_image(tmp_path, image_size=32)[0].astype(float)
    # displayed upright the picture is tall with white on top; ignoring EXIF would give white on the left
    assert img[:12].mean() > 200 and img[-12:].mean() < 50
    assert abs(img[:, :12].mean() - img[:, -12:].mean()) < 30


def test_transparency_is_composited_onto_black(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :4, 3] = 255                                           # left opaque red, right transparent
    Image.fromarray(rgba).save(tmp_path / "sticker.png")
    img = only_image(tmp_path, image_size=8)
    assert img.shape == (3, 8, 8)
    assert (img[0, :, :4] == 255).all() and (img[:, :, 4:] == 0).all()


def test_cmyk_and_palette_keep_their_colours(tmp_path):
    (tmp_path / "c").mkdir()
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c" / "red.jpg", quality=95)
    red = only_image(tmp_path / "c", image_size=8).astype(int)
    assert red[0].mean() > 200 and red[1].mean() < 60 and red[2].mean() < 60
    (tmp_path / "p").mkdir()
    Image.new("RGB", (8, 8), (0, 0, 255)).convert("P").save(tmp_path / "p" / "blue.png")
    blue = only_image(tmp_path / "p", image_size=8)
    assert (blue[2] == 255).all() and (blue[:2] == 0).all()


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("L", (8, 8), v) for v in (200, 10, 90)]
    frames[0].save(tmp_path / "blink.gif", save_all=True, append_images=frames[1:])
    assert (only_image(tmp_path, image_size=8) == 200).all()


def test_non_square_images_are_centre_cropped(tmp_path):
    arr = np.zeros((10, 30), np.uint8)
    arr[:, 10:20] = 255                                                    # the middle third is white
    Image.fromarray(arr).save(tmp_path / "wide.png")
    assert (only_image(tmp_path, image_size=10) == 255).all()


def test_root_images_next_to_classes_get_label_minus_one(tmp_path):
    (tmp_path / "a").mkdir()
    noise(8, 8).save(tmp_path / "a" / "x.png")
    noise(8, 8).save(tmp_path / "stray.png")
    data = load_image_folder(tmp_path, image_size=8)
    assert data.labels.tolist() == [-1, 0] and data.label_names == ["a"]
    flat = tmp_path / "flat"
    flat.mkdir()
    noise(8, 8, "L").save(flat / "y.png")
    only = load_image_folder(flat, image_size=8)
    assert only.labels is None and only.label_names == [] and only.images.shape == (1, 1, 8, 8)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinks_do_not_escape_the_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    noise(8, 8).save(outside / "secret.png")
    root = tmp_path / "root"
    (root / "cls").mkdir(parents=True)
    noise(8, 8).save(root / "cls" / "real.png")
    (root / "cls" / "link.png").symlink_to(outside / "secret.png")
    (root / "cls" / "inner.png").symlink_to(root / "cls" / "real.png")
    (root / "cls" / "linked-dir").symlink_to(outside, target_is_directory=True)
    (root / "cls" / "dangling.png").symlink_to(root / "gone.png")
    (root / "cls" / "loop.png").symlink_to("loop.png")
    data = load_image_folder(root, image_size=8)
    reasons = dict(data.skipped)
    assert "outside the folder" in reasons["cls/link.png"]
    assert "not followed" in reasons["cls/linked-dir"]
    assert reasons["cls/dangling.png"] == reasons["cls/loop.png"] == "broken symlink"
    assert len(data) == 2                                                  # real.png and the inner link


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_is_skipped_without_blocking(tmp_path):
    noise(8, 8).save(tmp_path / "real.png")
    os.mkfifo(tmp_path / "pipe.png")                                       # opening it to read would block
    data = load_image_folder(tmp_path, image_size=8)
    assert data.skipped == [("pipe.png", "a named pipe (FIFO), not a regular file")] and len(data) == 1
