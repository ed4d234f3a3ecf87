"""A file that is not a safetensors file at all is called that, in words, before any header detail
(issue 15, finding 15: a text file renamed .safetensors said 'header length 7526676540175443304 exceeds ...')."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from latent_atlas.main import main
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.errors import CheckpointError


def _text(path):
    path.write_text("These are my notes about the VAE lecture.\nbeta = 4 worked best.\n" * 20)


def _png(path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, format="PNG")


def _npy(path):
    with open(path, "wb") as f:
        np.save(f, np.zeros(10))


def _json(path):
    path.write_text('{"latent": [0.1, 0.2]}' + " " * 200)


def _utf8_cut(path):      # a multi-byte character across the 512th byte is still text
    path.write_text("é" * 400)


@pytest.mark.parametrize("write, words", [(_text, "it is a text file"), (_png, "it is an image"),
                                          (_npy, "NumPy"), (_json, "JSON text"),
                                          (_utf8_cut, "it is a text file")])
def test_a_file_that_is_not_a_checkpoint_is_called_that(tmp_path, write, words):
    path = tmp_path / "model.safetensors"
    write(path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    first, *details = str(info.value).splitlines()
    assert first.startswith(f"{path} is not a safetensors file") and words in first
    assert "header length" not in first
    assert details, "the technical detail stays, on a second line"


def test_the_command_line_prints_the_first_line_only(tmp_path, capsys):
    path = tmp_path / "notes.safetensors"
    _text(path)
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"latent-atlas: error: {path} is not a safetensors file (it is a text file)"]


def test_a_truncated_real_header_keeps_its_precise_message(tmp_path):
    """A file that does start like safetensors (a plausible length, then '{') is not called 'not one'."""
    path = tmp_path / "cut.safetensors"
    path.write_bytes((1000).to_bytes(8, "little") + b'{"a": ')
    with pytest.raises(CheckpointError, match="runs past the end"):
        load_checkpoint(path)
