"""`latent-atlas render` of recipes a stranger wrote: every bad input gives one line "latent-atlas: error:"
naming the file, exit 1, no image written, and none of them blocks, allocates gigabytes or executes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latent_atlas.editor.core.recipe import MAX_FRAMES, RecipeError, read_recipe
from latent_atlas.main import main
from tests.hostile_files import fifo, not_regular_files, sparse, within

ROOT = Path(__file__).resolve().parents[1]


def recipe(path: Path, checkpoint, latent=(0.1, 0.2, 0.3, 0.4), **extra) -> Path:
    doc = {"format": "latent-atlas-recipe", "version": 1, "checkpoint": str(checkpoint), "latent": list(latent),
           **extra}
    path.write_text(json.dumps(doc))
    return path


def render(capsys, recipe_path, out, *extra) -> tuple[int, str]:
    with within(20):
        code = main(["render", str(recipe_path), "--out", str(out), *map(str, extra)])
    err = capsys.readouterr().err
    return code, err


def assert_refused(code: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("latent-atlas: error: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_a_good_recipe_renders(capsys, digits_vae_path, tmp_path):
    # negative control: the helper's recipe renders, so the refusals below are about the one thing broken
    code, err = render(capsys, recipe(tmp_path / "r.json", digits_vae_path), tmp_path / "out.png")
    assert code == 0 and (tmp_path / "out.png").stat().st_size > 0, err


@pytest.mark.parametrize("kind", ["fifo", "folder", "zero", "urandom"])
def test_a_recipe_that_is_not_a_regular_file_is_refused_before_reading(capsys, tmp_path, kind):
    paths = not_regular_files(tmp_path, ".json")
    if kind not in paths:
        pytest.skip(f"no /dev/{kind}")
    code, err = render(capsys, paths[kind], tmp_path / "out.png")
    assert_refused(code, err, str(paths[kind]), "not a recipe")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("kind", ["fifo", "folder", "zero"])
def test_a_checkpoint_in_a_recipe_that_is_not_a_regular_file_says_what_it_is(capsys, tmp_path, kind):
    target = not_regular_files(tmp_path, ".safetensors")[kind]
    code, err = render(capsys, recipe(tmp_path / "r.json", target), tmp_path / "out.png")
    word = {"fifo": "named pipe", "folder": "is a folder", "zero": "is a device"}[kind]
    assert_refused(code, err, "r.json", "its checkpoint", word)
    assert "does not exist" not in err


def test_a_sparse_10_gb_checkpoint_is_refused_by_its_header_without_hashing_it(capsys, tmp_path):
    big = sparse(tmp_path, "big.safetensors")
    import time
    start = time.perf_counter()
    code, err = render(capsys, recipe(tmp_path / "r.json", big, checkpoint_sha256="0" * 64), tmp_path / "o.png")
    assert_refused(code, err, "big.safetensors")
    assert time.perf_counter() - start < 5          # hashing 10 GB took 26-42 s


def test_a_relative_checkpoint_path_is_relative_to_the_recipe_not_the_working_directory(
        capsys, digits_vae_path, tmp_path, monkeypatch):
    folder = tmp_path / "moved"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(Path(digits_vae_path).read_bytes())
    path = recipe(folder / "r.json", "model.safetensors")
    monkeypatch.chdir(tmp_path)                      # no model.safetensors here
    assert read_recipe(path)["checkpoint"] == str(folder / "model.safetensors")
    code, err = render(capsys, path, tmp_path / "out.png")
    assert code == 0, err


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.update(frames=[[0.0] * 4] * 20_000), f"frames: has 20,000 items; expected 1..{MAX_FRAMES}"),
    (lambda d: d.update(checkpoint=5), "checkpoint: expected a string, got a whole number"),
    (lambda d: d.update(checkpoint=None), "checkpoint: expected a string, got null"),
    (lambda d: d.update(latent=[0.1, 0.2, 0.3, 1e30]), "latent[3]"),
    (lambda d: d.update(latent=[0.1, 0.2, 0.3, "x"]), "latent[3]: expected a number, got a string"),
    (lambda d: d.update(scale=10**6), "scale: 1000000 is outside 1..16"),
    (lambda d: d.update(edits=[{"name": "a", "vector": {"x": 1}}]), "edits[0].vector: expected a list"),
    (lambda d: d.update(version="1"), "version: must be one of 1, got '1'"),
    (lambda d: d.update(latent=[0.1, 0.2, 0.3]), "the latent has 3 numbers, the model's latent has 4"),
])
def test_bad_recipe_fields_are_named(capsys, digits_vae_path, tmp_path, edit, words):
    doc = json.loads(recipe(tmp_path / "r.json", digits_vae_path).read_text())
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    code, err = render(capsys, path, tmp_path / "out.png")
    assert_refused(code, err, "bad.json", words)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("text, words", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"format": "latent-atlas-recipe", "checkpoint": "m", "latent": [' + "9" * 5000 + "]}", "5,000 digits"),
    ('{"format": "latent-atlas-recipe", "checkpoint": "m", "latent": [NaN, 1, 2, 3]}', "NaN"),
    ('{"format": "latent-atlas-recipe", "checkpoint": "m", "latent": [Infinity, 1, 2, 3]}', "Infinity"),
    ("\xff\xfe", "not UTF-8"),
])
def test_malformed_json_gives_one_line(capsys, tmp_path, text, words):
    path = tmp_path / "bad.json"
    path.write_bytes(text.encode("latin-1") if text == "\xff\xfe" else text.encode())
    code, err = render(capsys, path, tmp_path / "out.png")
    assert_refused(code, err, "bad.json", words)


@pytest.mark.parametrize("condition", [[float("nan")] + [0.0] * 9, [1e30] + [0.0] * 9, [1e300] + [0.0] * 9])
def test_a_cvae_condition_that_is_not_finite_or_huge_is_refused(capsys, digits_cvae_path, tmp_path, condition):
    path = tmp_path / "c.json"
    doc = {"format": "latent-atlas-recipe", "checkpoint": str(digits_cvae_path), "latent": [0.0] * 4,
           "condition": condition}
    path.write_text(json.dumps(doc))               # json.dumps writes NaN, as Python's json reads it
    code, err = render(capsys, path, tmp_path / "out.png")
    assert_refused(code, err, "c.json", "condition")
    assert not (tmp_path / "out.png").exists()


def test_a_good_cvae_condition_renders(capsys, digits_cvae_path, tmp_path):
    # negative control for the refused conditions
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"format": "latent-atlas-recipe", "checkpoint": str(digits_cvae_path),
                                "latent": [0.0] * 4, "condition": list(np.eye(10)[3])}))
    code, err = render(capsys, path, tmp_path / "out.png")
    assert code == 0, err


def test_out_that_is_a_fifo_is_not_replaced_by_a_file(capsys, digits_vae_path, tmp_path):
    out = fifo(tmp_path, "out.png")
    code, err = render(capsys, recipe(tmp_path / "r.json", digits_vae_path), out)
    assert_refused(code, err, "out.png")
    assert os.path.exists(out) and not out.is_file()        # still the FIFO


def test_read_recipe_raises_the_typed_error():
    with pytest.raises(RecipeError, match="is a device"):
        read_recipe("/dev/zero")


def test_the_real_process_refuses_a_fifo_recipe_at_once(tmp_path):
    """One line on stderr, exit 1, within the timeout (a read of the FIFO would block for ever)."""
    path = fifo(tmp_path, "r.json")
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "render", str(path), "--out",
                           str(tmp_path / "o.png")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("latent-atlas: error: ") and "named pipe" in proc.stderr
