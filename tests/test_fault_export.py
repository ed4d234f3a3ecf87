"""Exports into hostile places: a read-only folder, an existing name, the files in use, a missing folder.

Each gives an ExportError naming the file, and leaves either the old complete file or the new complete file,
never a half-written one and never a temp file. (The window's dialog asks before overwriting; these are the
non-UI functions underneath.)
"""
from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest
from PIL import Image
from test_fault_disk import read_only  # noqa: F401 -- the fixture: chmod 555, or a read-only tmpfs as root

from latent_atlas.editor.core.export import (
    ExportError,
    export_gif,
    export_latent,
    export_png,
    read_latent_npy,
    write_recipe,
)
from latent_atlas.models.checkpoints import atomic_io

IMAGE = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
FRAMES = np.random.default_rng(1).integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
LATENT = np.arange(4, dtype=np.float32)
RECIPE = {"latent": [0.5, 1.0], "checkpoint": "m.safetensors"}

EXPORTS = {
    "png": ("out.png", lambda p, **kw: export_png(p, IMAGE, **kw)),
    "gif": ("out.gif", lambda p, **kw: export_gif(p, FRAMES, **kw)),
    "npy": ("out.npy", lambda p, **kw: export_latent(p, LATENT, **kw)),
    "latent-json": ("out.json", lambda p, **kw: export_latent(p, LATENT, recipe=RECIPE, **kw)),
    "recipe": ("out.recipe.json", lambda p, **kw: write_recipe(p, RECIPE, **kw)),
}


def is_complete(path, kind) -> bool:
    """The file holds exactly what this test's export writes."""
    if kind == "png":
        return np.array_equal(np.asarray(Image.open(path).convert("RGB")), IMAGE)
    if kind == "gif":
        with Image.open(path) as im:
            return im.n_frames == 4 and im.size == (5, 6)      # 3 frames forth and back: 0 1 2 1
    if kind == "npy":
        return np.array_equal(read_latent_npy(path), LATENT)
    return json.loads(path.read_text()) == RECIPE


@pytest.mark.parametrize("kind", EXPORTS)
def test_export_into_a_read_only_folder_is_an_export_error(read_only, kind):  # noqa: F811
    name, export = EXPORTS[kind]
    with pytest.raises(ExportError) as err:
        export(read_only / name)
    assert str(read_only / name) in str(err.value)
    assert os.listdir(read_only) == []


@pytest.mark.parametrize("kind", EXPORTS)
def test_export_over_an_existing_name_replaces_it_whole(tmp_path, kind):
    name, export = EXPORTS[kind]
    path = tmp_path / name
    path.write_bytes(b"old contents")
    export(path)
    assert is_complete(path, kind)
    assert os.listdir(tmp_path) == [name]


@pytest.mark.parametrize("kind", EXPORTS)
def test_a_failure_while_replacing_keeps_the_old_file(tmp_path, monkeypatch, kind):
    name, export = EXPORTS[kind]
    path = tmp_path / name
    path.write_bytes(b"old contents")

    def replace_fails(src, dst):
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(atomic_io.os, "replace", replace_fails)
    with pytest.raises(ExportError) as err:
        export(path)
    monkeypatch.undo()
    assert str(path) in str(err.value) and "Input/output error" in str(err.value)
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == [name]


def test_a_png_encoder_failing_halfway_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    export_png(path, IMAGE[::-1])
    before = path.read_bytes()
    real_save = Image.Image.save

    def half_then_full(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        with open(fp, "r+b") as f:
            f.truncate(os.path.getsize(fp) // 2)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Image.Image, "save", half_then_full)
    with pytest.raises(ExportError, match="No space left"):
        export_png(path, IMAGE)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["out.png"]


@pytest.mark.parametrize("kind", EXPORTS)
def test_export_onto_a_protected_file_is_refused_and_leaves_it_alone(tmp_path, kind):
    name, export = EXPORTS[kind]
    source = tmp_path / name                   # stands for the checkpoint or dataset file in use
    source.write_bytes(b"the checkpoint")
    (tmp_path / "sub").mkdir()
    for spelling in (source, tmp_path / "sub" / ".." / name):
        with pytest.raises(ExportError, match="refusing to overwrite") as err:
            export(spelling, protected=[source])
        assert name in str(err.value)
    assert source.read_bytes() == b"the checkpoint"
    assert sorted(os.listdir(tmp_path)) == sorted([name, "sub"])


def test_a_symlink_to_the_protected_file_is_refused_too(tmp_path):
    source = tmp_path / "model.safetensors"
    source.write_bytes(b"weights")
    link = tmp_path / "link.png"
    link.symlink_to(source)
    with pytest.raises(ExportError, match="refusing to overwrite"):
        export_png(link, IMAGE, protected=[source])
    assert source.read_bytes() == b"weights" and link.is_symlink()


def test_control_an_unprotected_file_of_that_name_is_replaced(tmp_path):
    source = tmp_path / "other.png"
    source.write_bytes(b"old")
    export_png(source, IMAGE, protected=[tmp_path / "model.safetensors"])
    assert is_complete(source, "png")


@pytest.mark.parametrize("kind", EXPORTS)
def test_export_into_a_missing_folder_names_the_file_and_creates_nothing(tmp_path, kind):
    name, export = EXPORTS[kind]
    path = tmp_path / "missing" / "deeper" / name
    with pytest.raises(ExportError) as err:
        export(path)
    assert str(path) in str(err.value) and "does not exist" in str(err.value)
    assert os.listdir(tmp_path) == []


def test_an_image_export_with_its_recipe_refused_leaves_no_image_behind(tmp_path):
    """The recipe beside an image is protected: the export must not leave the image without its recipe."""
    recipe = tmp_path / "out.png.recipe.json"
    recipe.write_text("{}")
    with pytest.raises(ExportError, match="refusing to overwrite"):
        export_png(tmp_path / "out.png", IMAGE, recipe=RECIPE, protected=[recipe])
    assert sorted(os.listdir(tmp_path)) == ["out.png.recipe.json"]
