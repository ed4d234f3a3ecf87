"""Issue 19: a FIFO, /dev/zero, /dev/urandom and a folder where a file is expected, for the loaders the other
test_hostile_* files do not cover: IDX files, image folders, attribute tables, 'Your image', the quality
classifier and `info` of a checkpoint. Each is refused in one line naming the file, and never waits: every
case runs under `within`, so a loader that blocks on a FIFO fails the test instead of hanging the suite."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latent_atlas.editor.core.inversion import ImageFileError, is_image_file, read_image_noted
from latent_atlas.main import main
from latent_atlas.models.data import load_dataset
from latent_atlas.models.data.attributes import read_attribute_table
from latent_atlas.models.data.idx import read_idx
from latent_atlas.models.data.image_folder import load_image_folder
from latent_atlas.models.errors import CheckpointError, DatasetError
from latent_atlas.models.quality.classifier import CLASSIFIER_PATH, info_path, load_classifier
from tests.editor_helpers import open_and_wait
from tests.hostile_files import fifo, not_regular_files, within

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")

WORDS = {"fifo": "is a named pipe (FIFO)", "folder": "is a folder", "zero": "is a device", "urandom": "is a device"}


def kinds(tmp_path: Path, suffix: str = ""):
    return not_regular_files(tmp_path, suffix).items()


def one_line(error: Exception, path: Path, words: str) -> None:
    text = str(error)
    assert "\n" not in text and str(path) in text and words in text, text


def test_an_idx_file_that_is_not_a_regular_file_is_refused(tmp_path):
    for kind, path in kinds(tmp_path):
        with within(10), pytest.raises(DatasetError) as info:
            read_idx(path, 3)
        one_line(info.value, path, f"{WORDS[kind]}, not an IDX file")


def idx_folder(folder: Path, n: int = 3) -> Path:
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, 2, 0, 0, 0, 2])
                                                     + bytes(4 * n))
    (folder / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, n]) + bytes(n))
    return folder


@pytest.mark.parametrize("swap", ["fifo", "zero", "folder"])
def test_an_idx_folder_whose_images_file_is_not_a_regular_file_names_that_file(tmp_path, swap):
    """It was reported as missing ('no train-images-idx3-ubyte file'), naming only the folder."""
    good = load_dataset(str(idx_folder(tmp_path / "good")))            # negative control: the real layout loads
    assert len(good) == 3
    folder = idx_folder(tmp_path / "data")
    images = folder / "train-images-idx3-ubyte"
    images.unlink()
    if swap == "fifo":
        os.mkfifo(images)
    elif swap == "zero":
        images.symlink_to("/dev/zero")
    else:
        images.mkdir()
    with within(10), pytest.raises(DatasetError) as info:
        load_dataset(str(folder))
    one_line(info.value, images, WORDS[swap])


def test_an_image_folder_skips_a_fifo_image_and_does_not_follow_a_class_folder_linked_to_dev(tmp_path):
    root = tmp_path / "pictures"
    (root / "shirts").mkdir(parents=True)
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(root / "shirts" / "real.png")
    fifo(root / "shirts", "pipe.png")
    (root / "shirts" / "zero.png").symlink_to("/dev/zero")
    (root / "devices").symlink_to("/dev")
    with within(20):
        data = load_image_folder(root, image_size=8)
    assert len(data) == 1 and data.label_names == ["shirts"]
    assert set(data.skipped) == {("devices", "symlinked folder not followed"),
                                 ("shirts/pipe.png", "a named pipe (FIFO), not a regular file"),
                                 ("shirts/zero.png", "symlink points outside the folder")}


def test_an_image_folder_that_is_a_fifo_or_a_device_is_refused(tmp_path):
    for kind, path in kinds(tmp_path):
        if kind == "folder":
            continue                   # an empty folder: "no readable image", tested in test_data_image_folder
        with within(10), pytest.raises(DatasetError) as info:
            load_image_folder(path, image_size=8)
        one_line(info.value, path, "not a folder")


def test_an_attribute_table_that_is_not_a_regular_file_is_refused(tmp_path):
    for kind, path in kinds(tmp_path):
        with within(10), pytest.raises(DatasetError) as info:
            read_attribute_table(path)
        one_line(info.value, path, f"{WORDS[kind]}, not an attribute table")


def test_your_image_that_is_not_a_regular_file_is_refused(tmp_path):
    """A FIFO as 'Your image' froze the editor: PIL's open waited for a writer (also on a drop)."""
    for kind, path in kinds(tmp_path):
        with within(10), pytest.raises(ImageFileError) as info:
            read_image_noted(path, (1, 28, 28))
        one_line(info.value, path, f"{WORDS[kind]}, not an image file")
        with within(10):
            assert not is_image_file(path)
    png = tmp_path / "real.png"                                         # negative control
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(png)
    assert is_image_file(png) and read_image_noted(png, (1, 28, 28))[0].shape == (1, 28, 28)


def test_the_editor_says_a_fifo_is_not_your_image_and_keeps_the_model(qtbot, window, digits_vae_path, tmp_path):
    open_and_wait(qtbot, window, digits_vae_path)
    loaded = window.state.loaded
    pipe = fifo(tmp_path, "picture.png")
    with within(10):
        window.own_image.open(str(pipe))
    assert str(pipe) in window.errors[-1] and "named pipe" in window.errors[-1]
    assert window.state.loaded is loaded and window.own_image.latent is None


@pytest.fixture
def classifier_copy(tmp_path):
    path = tmp_path / "fashion_classifier.safetensors"
    shutil.copy(CLASSIFIER_PATH, path)
    shutil.copy(info_path(CLASSIFIER_PATH), info_path(path))
    return path


def test_a_classifier_file_that_is_not_a_regular_file_is_refused(tmp_path, classifier_copy):
    assert load_classifier(classifier_copy) is not None                 # negative control: the copy loads
    for kind, path in kinds(tmp_path, ".safetensors"):
        with within(10), pytest.raises(CheckpointError) as info:
            load_classifier(path)
        one_line(info.value, path, f"{WORDS[kind]}, not a classifier file")   # it said "classifier not found"


@pytest.mark.parametrize("swap", ["fifo", "zero", "folder"])
def test_a_classifier_record_that_is_not_a_regular_file_is_refused(classifier_copy, swap):
    """The record JSON beside the weights was read with read_text(): a FIFO hung, /dev/zero ran out of memory."""
    record = info_path(classifier_copy)
    record.unlink()
    if swap == "fifo":
        os.mkfifo(record)
    elif swap == "zero":
        record.symlink_to("/dev/zero")
    else:
        record.mkdir()
    with within(10), pytest.raises(CheckpointError) as info:
        load_classifier(classifier_copy)
    one_line(info.value, record, f"{WORDS[swap]}, not a classifier record")


def test_info_of_a_checkpoint_that_is_not_a_regular_file_is_one_line(capsys, tmp_path):
    for kind, path in kinds(tmp_path, ".safetensors"):
        with within(10):
            code = main(["info", str(path)])
        err = capsys.readouterr().err.strip()
        assert code != 0 and "\n" not in err and str(path) in err and WORDS[kind] in err, err
