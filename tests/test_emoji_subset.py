"""The bundled emoji subset: what the map of a bundled emoji model reads on a machine without the emoji packages."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from latent_atlas.models.data import emoji, load_dataset
from latent_atlas.models.data.emoji_subset import (
    RECORD,
    SHEET,
    SUBSET_DIR,
    SUBSET_SIZE,
    pick_rows,
    read_subset,
)
from latent_atlas.models.errors import DatasetError

INSTALLED = emoji.DEFAULT_FONT.is_file() and emoji.DEFAULT_TEST_FILE.is_file()


@pytest.fixture
def no_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(emoji, "DEFAULT_FONT", tmp_path / "NotoColorEmoji.ttf")
    monkeypatch.setattr(emoji, "DEFAULT_TEST_FILE", tmp_path / "emoji-test.txt")


def test_without_the_packages_the_test_split_is_the_bundled_subset(no_packages):
    data = load_dataset("emoji", split="test")
    assert 0 < len(data) <= SUBSET_SIZE and data.image_shape == (3, 64, 64)
    assert "bundled subset" in data.source and "apt-get install fonts-noto-color-emoji unicode-data" in data.source
    assert set(data.columns["tone"]) >= {"none", "light", "medium-light", "medium", "medium-dark", "dark"}
    assert data.attribute_names == emoji.ATTRIBUTE_NAMES and data.attributes.shape == (len(data), 8)
    # whole families: every tone variant of a base that is in the subset is in it
    for base in set(data.columns["base"][data.columns["tone"] != "none"]):
        assert (data.columns["base"] == base).sum() >= 5


def test_the_train_split_and_32_pixels_still_name_the_apt_get_line(no_packages):
    with pytest.raises(DatasetError, match="apt-get install fonts-noto-color-emoji unicode-data$"):
        load_dataset("emoji", split="train")
    with pytest.raises(DatasetError, match="apt-get install"):
        load_dataset("emoji", split="test", image_size=32)


@pytest.mark.skipif(not INSTALLED, reason="apt-get install fonts-noto-color-emoji unicode-data")
def test_the_subset_is_the_real_test_split_picture_for_picture():
    real = load_dataset("emoji", split="test")
    rows = pick_rows(real)
    bundled = read_subset("hint")
    assert np.array_equal(bundled.images, real.images[rows])
    assert np.array_equal(bundled.labels, real.labels[rows])
    assert np.array_equal(bundled.attributes, real.attributes[rows])
    for name, column in real.columns.items():
        assert list(bundled.columns[name]) == list(column[rows])


def test_a_damaged_subset_is_named_not_used(tmp_path):
    folder = tmp_path / "emoji-subset"
    shutil.copytree(SUBSET_DIR, folder)
    record = json.loads((folder / RECORD).read_text())
    (folder / RECORD).write_text(json.dumps({**record, "count": "many"}))
    with pytest.raises(DatasetError, match="emoji subset is damaged"):
        read_subset("hint", folder)
    (folder / RECORD).write_text(json.dumps(record))
    sheet = bytearray((folder / SHEET).read_bytes())
    sheet[len(sheet) // 2] ^= 0xFF
    (folder / SHEET).write_bytes(bytes(sheet))
    with pytest.raises(DatasetError, match="emoji subset is damaged"):
        read_subset("hint", folder)
    (folder / SHEET).unlink()
    with pytest.raises(DatasetError, match="^hint$"):
        read_subset("hint", folder)
