"""Attribute tables, CelebA and CSV: strict on damage, lenient (reported) on mismatch with the folder."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latent_atlas.models.data import attributes as attributes_module
from latent_atlas.models.data import load_dataset
from latent_atlas.models.data.attributes import read_attribute_table
from latent_atlas.models.errors import DatasetError

NAMES = ["Smiling", "Eyeglasses"]
ROWS = [("000001.jpg", "1", "-1"), ("000002.jpg", "-1", "1"), ("000003.jpg", "+1", "0")]


def celeba(path: Path, rows=ROWS, names=NAMES, count=None, newline="\n", bom=False) -> Path:
    lines = [str(len(rows) if count is None else count), " ".join(names)]
    lines += ["  ".join(row) for row in rows]
    text = newline.join(lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def test_good_celeba_table(tmp_path):
    names, table = read_attribute_table(celeba(tmp_path / "list_attr_celeba.txt"))
    assert names == NAMES
    assert {k: v.tolist() for k, v in table.items()} == {
        "000001.jpg": [1.0, 0.0], "000002.jpg": [0.0, 1.0], "000003.jpg": [1.0, 0.0]}
    assert table["000001.jpg"].dtype == np.float32


def test_crlf_and_bom_read_the_same(tmp_path):
    plain = read_attribute_table(celeba(tmp_path / "plain.txt"))
    windows = read_attribute_table(celeba(tmp_path / "windows.txt", newline="\r\n", bom=True))
    assert plain[0] == windows[0]
    assert {k: v.tolist() for k, v in plain[1].items()} == {k: v.tolist() for k, v in windows[1].items()}


@pytest.mark.parametrize("rows, count, line, words", [
    (ROWS, 4, 1, "says 4 rows but the file has 3"),
    (ROWS[:1] + [("000002.jpg", "1")] + ROWS[2:], None, 4, "1 values"),
    (ROWS[:2] + [("000003.jpg", "2", "1")], None, 5, "illegal value '2'"),
    (ROWS + [("000001.jpg", "1", "1")], None, 6, "listed twice (first on line 3)"),
    ([("../x.jpg", "1", "1")] + ROWS, None, 3, "'..'"),
    (ROWS + [("sub/../../x.jpg", "1", "1")], None, 6, "'..'"),
    (ROWS + [("/etc/passwd", "1", "1")], None, 6, "absolute"),
    (ROWS + [("C:\\x.jpg", "1", "1")], None, 6, "absolute"),
    (ROWS + [("a\\..\\..\\x.jpg", "1", "1")], None, 6, "'..'"),
])
def test_damaged_celeba_table_names_file_and_line(tmp_path, rows, count, line, words):
    path = celeba(tmp_path / "attrs.txt", rows=rows, count=count, newline="\r\n")
    with pytest.raises(DatasetError) as info:
        read_attribute_table(path)
    message = str(info.value)
    assert "attrs.txt" in message and f"line {line}:" in message and words in message, message


def test_duplicate_attribute_name_is_line_two(tmp_path):
    with pytest.raises(DatasetError, match="line 2: attribute 'Smiling' is named twice"):
        read_attribute_table(celeba(tmp_path / "a.txt", names=["Smiling", "Smiling"]))


def test_csv_table_and_its_errors(tmp_path):
    good = tmp_path / "attrs.csv"
    good.write_text("file,Smiling,Eyeglasses\r\ncats/a.png,1,0\r\n\r\n\"b c.png\",-1,+1\r\n")
    names, table = read_attribute_table(good)
    assert names == NAMES and table["cats/a.png"].tolist() == [1, 0] and table["b c.png"].tolist() == [0, 1]
    bad = tmp_path / "bad.csv"
    bad.write_text("file,Smiling,Eyeglasses\na.png,1,0\n\nb.png,1,yes\n")
    with pytest.raises(DatasetError, match=r"bad.csv: line 4: illegal value 'yes'"):
        read_attribute_table(bad)
    bad.write_text("file,Smiling\na.png,1\na.png,0\n")
    with pytest.raises(DatasetError, match=r"bad.csv: line 3: 'a.png' is listed twice"):
        read_attribute_table(bad)


def test_unreadable_tables_are_refused(tmp_path, monkeypatch):
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"1\nSmiling\ncaf\xe9.jpg 1\n")
    with pytest.raises(DatasetError, match="latin.txt: line 3: not UTF-8"):
        read_attribute_table(latin)
    monkeypatch.setattr(attributes_module, "MAX_TABLE_BYTES", 10)
    with pytest.raises(DatasetError, match="big.txt is 75 bytes, over the 10 byte limit for an attribute table"):
        read_attribute_table(celeba(tmp_path / "big.txt"))
    with pytest.raises(DatasetError, match="missing.txt"):
        read_attribute_table(tmp_path / "missing.txt")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.txt")                  # reading it would block forever
        with pytest.raises(DatasetError, match=r"pipe.txt is a named pipe \(FIFO\), not an attribute table"):
            read_attribute_table(tmp_path / "pipe.txt")


def faces(folder: Path, brightness: dict[str, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in brightness.items():
        Image.new("L", (8, 8), value).save(folder / name)
    return folder


def test_folder_with_table_aligns_rows_and_reports_mismatches(tmp_path):
    # brightness encodes the attribute, so a row matched to the wrong image would show
    folder = faces(tmp_path / "img_align", {"000001.jpg": 250, "000002.jpg": 5, "000003.jpg": 250,
                                            "unlisted.jpg": 128})
    rows = [("000003.jpg", "1", "-1"), ("000002.jpg", "-1", "1"), ("000001.jpg", "1", "-1"),
            ("gone.jpg", "1", "1")]
    table = celeba(tmp_path / "list_attr_celeba.txt", rows=rows)
    data = load_dataset(str(folder), attributes_file=str(table), image_size=8)
    assert data.attribute_names == NAMES and len(data) == 3
    bright = data.images.reshape(3, -1).mean(1) > 128
    assert np.array_equal(data.attributes[:, 0] == 1, bright)
    cond, names = data.conditions("attributes")
    assert names == NAMES and cond.shape == (3, 2)
    reasons = dict(data.skipped)
    assert set(reasons) == {"unlisted.jpg", "gone.jpg"}
    assert "no row in list_attr_celeba.txt" in reasons["unlisted.jpg"]
    assert "not found in the folder" in reasons["gone.jpg"]


def test_table_rows_name_images_in_class_folders_by_relative_path(tmp_path):
    faces(tmp_path / "root" / "happy", {"a.png": 250})
    faces(tmp_path / "root" / "sad", {"a.png": 5})
    table = tmp_path / "t.csv"
    table.write_text("file,bright\nhappy/a.png,1\nsad\\a.png,0\n")
    data = load_dataset(str(tmp_path / "root"), attributes_file=str(table), image_size=8)
    assert data.labels.tolist() == [0, 1] and data.attributes[:, 0].tolist() == [1.0, 0.0]


def test_table_matching_no_image_is_an_error(tmp_path):
    folder = faces(tmp_path / "imgs", {"x.png": 1})
    with pytest.raises(DatasetError, match="no image"):
        load_dataset(str(folder), attributes_file=str(celeba(tmp_path / "t.txt")))
