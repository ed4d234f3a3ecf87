"""Attribute vectors a stranger hands over: vector files (JSON and .npy) and vectors stored in a checkpoint.
Bad files give the typed error naming the file and the field; none blocks, allocates what a header claims,
or reaches a Qt widget as rich text; many vectors keep the editor responsive."""
from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
import safetensors.torch
import torch

from latent_atlas.editor.core import attributes as attrs
from latent_atlas.editor.panels.attribute_panel import AttributePanel
from latent_atlas.editor.panels.attribute_row import SHOWN_ROWS
from latent_atlas.editor.panels.cosine_table import MAX_TABLE_VECTORS
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint
from latent_atlas.models.errors import CheckpointError
from tests.editor_helpers import open_and_wait
from tests.hostile_files import RICH_NAME, not_regular_files, within
from tests.panel_helpers import tool


@pytest.mark.parametrize("suffix", [".json", ".npy"])
@pytest.mark.parametrize("kind", ["fifo", "folder", "zero", "urandom"])
def test_a_vector_file_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind, suffix):
    paths = not_regular_files(tmp_path, suffix)
    if kind not in paths:
        pytest.skip(f"no /dev/{kind}")
    with within(10), pytest.raises(attrs.VectorFileError, match="folder|named pipe|device") as info:
        attrs.load_vectors_file(paths[kind], 4)
    assert str(paths[kind]) in str(info.value)


def npy_with_header(path, shape, dtype="<f4", data=b""):
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data)
    return path


@pytest.mark.parametrize("make, words", [
    (lambda p: npy_with_header(p, (10**12, 4)), "the array holds 1,000,000,000,000 vectors"),
    (lambda p: npy_with_header(p, (2, 4), data=b"\0" * 8), "but 8 bytes follow it"),
    (lambda p: p.write_bytes(b"\x93NUMPY"), "not a .npy array file"),
    (lambda p: np.save(p, np.zeros((0, 4), np.float32)), "holds 0 vectors"),
    (lambda p: np.save(p, np.ones((2, 4), np.complex64)), "complex64 values"),
    (lambda p: np.save(p, np.array(["a", "b", "c", "d"])), "<U1 values"),
    (lambda p: np.save(p, np.zeros(4, "datetime64[s]")), "datetime64"),
    (lambda p: np.save(p, np.array([1e300, 0, 0, 0])), "row 0 has NaN, infinite or out-of-float32-range"),
    (lambda p: np.save(p, np.array([np.nan, 0, 0, 0])), "row 0 has NaN"),
    (lambda p: np.save(p, np.zeros((2, 3), np.float32)), "the vectors have 3 numbers"),
    (lambda p: np.save(p, np.zeros((2, 2, 4), np.float32)), "expected an array (D,) or (K, D)"),
    (lambda p: np.save(p, np.zeros((1001, 4), np.float32)), "1,001 vectors; expected 1..1,000"),
])
def test_bad_npy_vector_files(tmp_path, make, words):
    path = tmp_path / "v.npy"
    make(path)
    with within(10), pytest.raises(attrs.VectorFileError) as info:
        attrs.load_vectors_file(path, 4)
    assert words in str(info.value) and str(path) in str(info.value), str(info.value)


def test_a_good_npy_loads_with_its_values(tmp_path):
    # negative control for the refusals above, including a Fortran-ordered (K, D) array
    array = np.asfortranarray(np.arange(8, dtype=np.float64).reshape(2, 4))
    np.save(tmp_path / "v.npy", array)
    found = attrs.load_vectors_file(tmp_path / "v.npy", 4).vectors
    assert np.array_equal(np.stack([e.vector for e in found]), array.astype(np.float32))


def vector_json(path, vectors):
    path.write_text(json.dumps({"format": attrs.VECTORS_FORMAT, "version": 1, "latent_dim": 4,
                                "vectors": vectors}))
    return path


@pytest.mark.parametrize("vectors, words", [
    ([{"name": "v", "vector": [1e300, 0, 0, 0]}], "vectors[0].vector[0]"),
    ([{"name": "x" * 10_000_000, "vector": [0, 0, 0, 0]}], "vectors[0].name: is 10,000,000 characters long"),
    ([{"name": ["v"], "vector": [0, 0, 0, 0]}], "vectors[0].name: expected a string, got a list"),
    ([{"name": "v", "vector": [True, 0, 0, 0]}], "vectors[0].vector[0]: expected a number, got true/false"),
    ([{"name": f"v{i}", "vector": [0, 0, 0, 0]} for i in range(1001)], "vectors: has 1,001 items"),
])
def test_bad_json_vector_files(tmp_path, vectors, words):
    path = vector_json(tmp_path / "v.json", vectors)
    with pytest.raises(attrs.VectorFileError) as info:
        attrs.load_vectors_file(path, 4)
    assert words in str(info.value) and len(str(info.value)) < 600, str(info.value)[:300]


def test_a_checkpoint_vector_name_too_long_or_too_many_is_refused_before_reading(tmp_path, tiny_model):
    model = tiny_model("vae", latent_dim=4)
    with pytest.raises(CheckpointError, match="over the limit of 200"):
        load_checkpoint(save_checkpoint(tmp_path / "long.safetensors", model,
                                        vectors={"x" * 5000: {"vector": torch.ones(4)}}))
    many = {f"v{i}": {"vector": torch.ones(4)} for i in range(1001)}
    with pytest.raises(CheckpointError, match="over the limit of 1,000"):
        load_checkpoint(save_checkpoint(tmp_path / "many.safetensors", model, vectors=many))


def test_a_huge_sparse_rng_state_is_refused_from_the_header(tmp_path, tiny_model):
    """A 2 GB RNG tensor (a sparse file) was cloned by info, render and the editor (4.5 GB peak)."""
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model("vae", latent_dim=4))
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
    big = 2 * 2**30
    header["rng.torch"] = {"dtype": "U8", "shape": [big], "data_offsets": [len(data), len(data) + big]}
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
        f.truncate(8 + len(text) + len(data) + big)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="RNG state 'rng.torch' is U8 \\[2147483648\\]"):
        load_checkpoint(path)
    assert time.perf_counter() - start < 5


def test_a_vector_tensor_of_the_wrong_shape_is_refused_from_the_header(tmp_path, tiny_model):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model("vae", latent_dim=4),
                           vectors={"v": {"vector": torch.ones(4)}})
    tensors = safetensors.torch.load_file(path)
    tensors["vector.v"] = torch.ones(10**6)
    meta = safetensors.safe_open(str(path), "pt").metadata()
    safetensors.torch.save_file(tensors, path, metadata=meta)
    with pytest.raises(CheckpointError, match=r"vector 'v' is F32 \[1000000\], the latent is \[4\]"):
        load_checkpoint(path)


@pytest.fixture(scope="module")
def many_vectors_checkpoint(tmp_path_factory, digits_vae_path):
    """The digits VAE with 300 stored vectors, one of them named like an HTML image."""
    ckpt = load_checkpoint(digits_vae_path)
    g = torch.Generator().manual_seed(0)
    vectors = {f"v{i}": {"vector": torch.randn(4, generator=g), "description": "d"} for i in range(299)}
    vectors[RICH_NAME] = {"vector": torch.ones(4), "description": RICH_NAME}
    out = tmp_path_factory.mktemp("vectors") / "many.safetensors"
    return save_checkpoint(out, ckpt.model, dataset=ckpt.dataset, vectors=vectors)


def test_300_stored_vectors_open_in_seconds_and_show_names_as_text(qtbot, window, many_vectors_checkpoint):
    """300 vectors took 37 s to open (a 300 x 300 cosine table on the GUI thread); 1,000 never finished."""
    start = time.perf_counter()
    open_and_wait(qtbot, window, many_vectors_checkpoint)
    panel = tool(window, AttributePanel)
    assert len(panel.rows) == SHOWN_ROWS + 1 and panel.more_rows.isVisible()   # and the picked (last) one
    assert panel.more_rows.text() == f"Show all 300 vectors… ({SHOWN_ROWS + 1} shown)"
    assert time.perf_counter() - start < 15
    assert panel.cosines.rowCount() == 1 and f"at most {MAX_TABLE_VECTORS}" in panel.cosines.item(0, 0).text()
    row = panel.rows[RICH_NAME]
    assert row.pick.full_text == RICH_NAME and RICH_NAME.startswith(row.pick.text().rstrip("…"))   # literal
    assert "&lt;img" in row.pick.toolTip() and "<img" not in row.pick.toolTip()
    start = time.perf_counter()
    window.state.set_edit_weight("v0", 0.5)                    # a slider move redraws every row
    qtbot.wait(1)
    assert time.perf_counter() - start < 1.0


def test_the_cosine_table_is_still_drawn_for_a_few_vectors(qtbot, window, digits_vae_path):
    # negative control for the cap: below it the K x K table is there
    open_and_wait(qtbot, window, digits_vae_path)
    panel = tool(window, AttributePanel)
    for i in range(3):
        panel.add_vector(f"a{i}", np.eye(4, dtype=np.float32)[i])
    assert panel.cosines.rowCount() == 3 and panel.cosines.item(0, 1).text() == "+0.00"


@pytest.fixture(scope="module")
def thousand_vectors_checkpoint(tmp_path_factory, digits_vae_path):
    ckpt = load_checkpoint(digits_vae_path)
    g = torch.Generator().manual_seed(1)
    vectors = {f"v{i}": {"vector": torch.randn(4, generator=g), "description": f"d{i}"} for i in range(1000)}
    out = tmp_path_factory.mktemp("vectors") / "thousand.safetensors"
    return save_checkpoint(out, ckpt.model, dataset=ckpt.dataset, vectors=vectors)


def test_1000_vectors_open_with_a_cut_list_whose_sliders_apply(qtbot, window, thousand_vectors_checkpoint):
    """1,000 rows were built on the GUI thread (~2 s) and the list shown whole; now SHOWN_ROWS rows and the
    picked one, 'Show all 1,000 vectors…' builds the rest on request, and every built slider still edits."""
    open_and_wait(qtbot, window, thousand_vectors_checkpoint)
    panel = tool(window, AttributePanel)
    names = [e.name for e in window.state.edits]                     # the checkpoint's order
    assert len(names) == 1000 and names[-1] == panel.selected
    assert list(panel.rows) == names[:SHOWN_ROWS] + [names[-1]]      # the picked (last) one has its row too
    assert panel.more_rows.isVisible() and "Show all 1,000 vectors" in panel.more_rows.text()
    assert panel.cosines.rowCount() == 1 and "1000 vectors" in panel.cosines.item(0, 0).text()
    before = window.state.latent().copy()
    panel.rows[names[7]].slider.setValue(20)                          # weight 1.0 from the slider
    edit = window.state.edits[7]
    assert edit.name == names[7] and edit.weight == 1.0
    assert np.allclose(window.state.latent(), before + edit.vector, atol=1e-5)
    panel.more_rows.click()                                           # on request: every row, in order
    assert list(panel.rows) == names and not panel.more_rows.isVisible()
    panel.rows[names[500]].slider.setValue(-10)
    assert window.state.edits[500].weight == -0.5
