"""Fuzz the parsers of untrusted files: any input gives a result or a DatasetError, nothing else."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latent_atlas.models.data.attributes import read_attribute_table
from latent_atlas.models.data.idx import read_idx
from latent_atlas.models.errors import DatasetError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKENS = st.sampled_from(["1", "-1", "+1", "0", "2", "3", "Smiling", "a.jpg", "b.png", "../x.jpg", "/abs",
                          "C:\\x", ",", " ", "  ", "\t", '"', "file", "\ufeff", "\x00", "é",
                          "99999999999999999999"])
LINES = st.lists(st.lists(TOKENS, max_size=8).map("".join), max_size=8)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """One folder for the module: hypothesis rejects function-scoped fixtures (not reset per example)."""
    return tmp_path_factory.mktemp("fuzz")


def parse_table(work: Path, data: bytes):
    path = work / "table.txt"
    path.write_bytes(data)
    try:
        names, table = read_attribute_table(path)
    except DatasetError:
        return
    assert names and len(set(names)) == len(names)
    for key, values in table.items():
        assert values.shape == (len(names),) and values.dtype == np.float32
        assert set(values.tolist()) <= {0.0, 1.0}
        assert ".." not in key.split("/") and not key.startswith("/")


@FUZZ
@given(st.binary(max_size=400))
def test_attribute_table_random_bytes(work, data):
    parse_table(work, data)


@FUZZ
@given(LINES, NEWLINES, st.booleans())
def test_attribute_table_random_lines(work, lines, newline, count_first):
    if count_first:
        lines = [str(max(len(lines) - 2, 0))] + lines
    parse_table(work, newline.join(lines).encode())


def read_fuzzed_idx(work: Path, data: bytes, ndim: int, gz: bool):
    path = work / "fuzz-idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    try:
        array = read_idx(path, ndim)
    except DatasetError:
        return
    assert array.dtype == np.uint8 and array.ndim == ndim


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([1, 3]), st.booleans())
def test_idx_random_bytes(work, data, ndim, gz):
    read_fuzzed_idx(work, data, ndim, gz)


@FUZZ
@given(st.sampled_from([1, 3]), st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), max_size=4),
       st.binary(max_size=200), st.booleans())
def test_idx_plausible_headers(work, ndim, dims, payload, gz):
    header = struct.pack(">I", 0x0800 | ndim) + b"".join(struct.pack(">I", d) for d in dims)
    read_fuzzed_idx(work, header + payload, ndim, gz)


def test_fuzz_helpers_catch_a_parser_that_raises_something_else(work, monkeypatch):
    """Negative control: a stray exception type gets through the helper, so the fuzz tests would fail."""
    import latent_atlas.models.data.idx as idx_module

    def broken(*_args, **_kwargs):
        raise ValueError("not a DatasetError")

    monkeypatch.setattr(idx_module, "_parse", broken)
    try:
        read_fuzzed_idx(work, b"\x00\x00\x08\x01\x00\x00\x00\x00", 1, False)
    except ValueError:
        return
    raise AssertionError("a ValueError from the parser was swallowed")
