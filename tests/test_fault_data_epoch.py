"""One epoch of training from the command line on a folder full of hostile images.

The loader's own tests check each file kind; this checks the whole path a user takes: `latent-atlas train`
on the zoo finishes (exit 0), names every bad file on stderr with its reason, and writes a checkpoint that
loads. Then a CVAE conditioned on a CelebA-style attribute table.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def noise(w: int, h: int, seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def make_zoo(root: Path) -> dict[str, str]:
    """Good images in two class folders plus the bad ones; returns {bad file: words of its reason}."""
    cats, dogs = root / "cats", root / "dogs"
    cats.mkdir(parents=True)
    dogs.mkdir()
    for i in range(6):
        noise(20 + i, 20, seed=i).save(cats / f"good{i}.png")
        noise(24, 24, seed=10 + i).save(dogs / f"good{i}.jpg")
    noise(90, 30, seed=20).save(cats / "wide.png")                                     # wrong size
    noise(3, 50, seed=21).save(dogs / "tall.jpg")
    Image.fromarray(np.full((16, 16), 50000, np.uint16)).save(cats / "deep16.png")     # 16-bit
    noise(16, 16, seed=22).convert("CMYK").save(cats / "cmyk.jpg")
    noise(16, 16, seed=23).convert("P").save(cats / "palette.png")
    Image.new("RGBA", (16, 16), (0, 255, 0, 100)).save(cats / "rgba.png")
    exif = Image.Exif()
    exif[0x0112] = 6                                                                   # rotate 90 on display
    noise(32, 16, seed=24).save(dogs / "rotated.jpg", exif=exif)
    frames = [Image.new("L", (16, 16), v) for v in (200, 10, 90)]
    frames[0].save(dogs / "animated.gif", save_all=True, append_images=frames[1:])
    whole = (dogs / "good0.jpg").read_bytes()
    (dogs / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    (cats / "empty.png").write_bytes(b"")
    (dogs / "letter.jpg").write_text("This is a letter, not a JPEG.\n")
    return {"dogs/truncated.jpg": "truncated", "cats/empty.png": "empty file", "dogs/letter.jpg": "not an image"}


GOOD_COUNT = 12 + 8


def train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", "train", "--epochs", "1", "--batch-size", "8", "--quiet",
                           "--device", "cpu", "--latent-dim", "2", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180, check=False, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_one_epoch_on_the_zoo_completes_and_names_every_bad_file(tmp_path):
    zoo = tmp_path / "zoo"
    bad = make_zoo(zoo)
    out = tmp_path / "zoo.safetensors"
    result = train("--model", "vae", "--dataset", str(zoo), "--image-size", "16", "--out", str(out))
    assert result.returncode == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == len(bad), result.stderr
    for name, reason in bad.items():
        assert any(line.startswith(f"skipped {name}: ") and reason in line for line in skipped), result.stderr
    assert f"({GOOD_COUNT} images (3, 16, 16))" in result.stdout, result.stdout
    ckpt = load_checkpoint(out)
    assert ckpt.config.image_shape == (3, 16, 16)
    assert ckpt.dataset["label_names"] == ["cats", "dogs"] and ckpt.history["step"][-1] == 3   # 20 / 8 -> 3


def test_control_a_folder_of_only_bad_files_fails_with_one_error_line(tmp_path):
    zoo = tmp_path / "zoo"
    make_zoo(zoo)
    for path in zoo.rglob("good*"):
        path.unlink()
    for name in ("wide.png", "tall.jpg", "deep16.png", "cmyk.jpg", "palette.png", "rgba.png", "rotated.jpg",
                 "animated.gif"):
        for path in zoo.rglob(name):
            path.unlink()
    result = train("--dataset", str(zoo), "--image-size", "16", "--out", str(tmp_path / "x.safetensors"))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("latent-atlas: error:")]
    assert len(errors) == 1 and "no readable image found" in errors[0] and str(zoo) in errors[0]
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("extra_rows", [False, True], ids=["exact", "with-missing-and-unlisted"])
def test_one_epoch_of_a_cvae_on_an_attribute_table(tmp_path, extra_rows):
    faces = tmp_path / "img_align"
    faces.mkdir()
    rows = []
    for i in range(12):
        name = f"{i:06d}.jpg"
        bright = i % 2 == 0
        Image.new("RGB", (20, 24), (230, 200, 180) if bright else (40, 30, 20)).save(faces / name)
        rows.append(f"{name} {'1' if bright else '-1'} {'1' if i % 3 == 0 else '-1'}")
    (faces / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 nothing else")
    if extra_rows:
        rows.append("gone.jpg 1 1")
        noise(20, 20, seed=3).save(faces / "unlisted.jpg")
    table = tmp_path / "list_attr_celeba.txt"
    table.write_text(f"{len(rows)}\nSmiling Male\n" + "\n".join(rows) + "\n")
    out = tmp_path / "cvae.safetensors"
    result = train("--model", "cvae", "--condition", "attributes", "--attributes", str(table),
                   "--dataset", str(faces), "--image-size", "16", "--out", str(out))
    assert result.returncode == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    expected = {"broken.jpg"} | ({"gone.jpg", "unlisted.jpg"} if extra_rows else set())
    assert {line.split(":")[0].removeprefix("skipped ") for line in skipped} == expected, result.stderr
    ckpt = load_checkpoint(out)
    assert ckpt.kind == "cvae" and ckpt.config.cond_dim == 2
    assert ckpt.dataset["condition"] == "attributes"
    assert ckpt.dataset["condition_names"] == ["Smiling", "Male"]
    assert "(12 images" in result.stdout
