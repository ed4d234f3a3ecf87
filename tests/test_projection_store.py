"""Projection fits kept for the session and on disk (issue 15, finding 7: choosing t-SNE again refitted from
scratch). Qt-free: the store, its files, and what a damaged file does."""
from __future__ import annotations

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from latent_atlas.editor.core.projection_store import ProjectionStore, fit_key, store_path

SHA = "ab" * 32


def _latents(n=200, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * np.linspace(2.0, 0.3, d)).astype(np.float32)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_ATLAS_CACHE", str(tmp_path / "cache"))
    with threadpool_limits(limits=1):
        yield tmp_path / "cache"


TSNE = {"max_iter": 250}
CASES = [("pca", {}), ("pca", {"components": (0, 2), "keep_residual": True}), ("tsne", TSNE)]


@pytest.mark.parametrize("method, options", CASES)
def test_a_fit_is_made_once_and_the_next_session_reads_it_from_disk_the_same(method, options):
    Z = _latents()
    key = fit_key(SHA, Z, method, options)
    first = ProjectionStore()
    a = first.get_or_fit(key, method, options, Z)
    assert first.get_or_fit(key, method, options, Z) is a and first.known(key) is a and first.fits_made == 1
    assert store_path(key).is_file()
    second = ProjectionStore()                                    # a new session: memory is empty
    b = second.get_or_fit(key, method, options, Z)
    assert second.fits_made == 0 and b is not a
    np.testing.assert_array_equal(b.embedding, a.embedding)
    P = a.embedding[:5].astype(np.float64) * 0.9 + 0.1            # clicks between points: the inverse
    np.testing.assert_array_equal(b.inverse(P), a.inverse(P))
    off = Z[:4] + np.float32(0.3)                                 # latents off the data: the placement
    np.testing.assert_array_equal(b.transform(off), a.transform(off))


def test_keys_differ_by_checkpoint_method_options_and_data_and_ignore_where_it_runs():
    Z = _latents()
    base = fit_key(SHA, Z, "tsne", {})
    assert base == fit_key(SHA, Z, "tsne", {"perplexity": 30.0, "max_iter": 1000})   # the defaults spelt out
    others = {fit_key("cd" * 32, Z, "tsne", {}), fit_key(SHA, Z, "pca", {}), fit_key(SHA, Z, "tsne", TSNE),
              fit_key(SHA, Z[:150], "tsne", {}), fit_key(SHA, Z + np.float32(1e-3), "tsne", {})}
    assert base not in others and len(others) == 5


def _damage(path, how):
    data = bytearray(path.read_bytes())
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    if how == "truncated":
        del data[len(data) // 2:]
    elif how == "huge header length":
        data[:8] = (1 << 62).to_bytes(8, "little")
    elif how == "garbage":
        data[:] = b"not a safetensors file at all" * 10
    elif how in ("another key", "another version"):
        from safetensors.numpy import load, save
        meta = dict(header["__metadata__"], **{"key" if how == "another key" else "version": "0" * 64})
        data = bytearray(save(load(bytes(data)), metadata=meta))
    else:                                                          # values a fit never makes
        from safetensors.numpy import load, save
        arrays = load(bytes(data))
        if how == "NaN map point":
            arrays["embedding"][3, 0] = np.nan
        elif how == "index out of range":
            arrays["fitted"][-1] = 10_000
        elif how == "axes not orthonormal":
            arrays["W"] *= 2.0
        elif how == "wrong shape":
            arrays["embedding"] = arrays["embedding"][:-1]
        data = bytearray(save(arrays, metadata=header["__metadata__"]))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("method, how", [
    ("tsne", "truncated"), ("tsne", "huge header length"), ("tsne", "garbage"), ("tsne", "another key"),
    ("tsne", "another version"), ("tsne", "NaN map point"), ("tsne", "index out of range"),
    ("tsne", "wrong shape"), ("pca", "axes not orthonormal"), ("pca", "truncated"),
])
def test_a_damaged_or_hostile_file_is_ignored_removed_and_refitted(method, how):
    Z = _latents(120)
    options = TSNE if method == "tsne" else {}
    key = fit_key(SHA, Z, method, options)
    good = ProjectionStore().get_or_fit(key, method, options, Z)
    _damage(store_path(key), how)
    store = ProjectionStore()
    again = store.get_or_fit(key, method, options, Z)
    assert store.fits_made == 1                                   # refitted, no crash
    np.testing.assert_allclose(again.embedding, good.embedding, atol=1e-3)
    assert ProjectionStore().get_or_fit(key, method, options, Z) is not None
    assert store_path(key).stat().st_size > 100                   # the refit wrote a good file in its place


def test_negative_control_an_undamaged_copy_of_the_file_is_read():
    """The damage above is what makes those files refused: the same rewrite without damage is accepted."""
    Z = _latents(120)
    key = fit_key(SHA, Z, "tsne", TSNE)
    ProjectionStore().get_or_fit(key, "tsne", TSNE, Z)
    from safetensors.numpy import load, save
    data = store_path(key).read_bytes()
    n = int.from_bytes(data[:8], "little")
    store_path(key).write_bytes(save(load(data), metadata=json.loads(data[8:8 + n])["__metadata__"]))
    store = ProjectionStore()
    store.get_or_fit(key, "tsne", TSNE, Z)
    assert store.fits_made == 0


def test_the_session_keeps_the_newest_fits_only():
    from latent_atlas.editor.core import projection_store

    store = ProjectionStore(use_disk=False)
    Z = _latents()
    keys = []
    for i in range(projection_store.MAX_IN_MEMORY + 2):
        keys.append(fit_key(SHA, Z + np.float32(i), "pca", {}))
        store.get_or_fit(keys[-1], "pca", {}, Z + np.float32(i))
    assert store.known(keys[0]) is None and store.known(keys[1]) is None and store.known(keys[-1]) is not None


def test_the_folder_cap_covers_projection_files(monkeypatch):
    import os

    from latent_atlas.editor.core import map_cache

    store = ProjectionStore()
    paths = []
    for i in range(4):
        Z = _latents(seed=i)
        key = fit_key(SHA, Z, "pca", {})
        store.get_or_fit(key, "pca", {}, Z)
        paths.append(store_path(key))
        os.utime(paths[-1], (1e9 + i, 1e9 + i))                  # written in this order, a second apart
        if i == 1:                                                # room for two files from now on
            monkeypatch.setattr(map_cache, "MAX_FOLDER_BYTES", int(2.5 * paths[0].stat().st_size))
    assert [p.is_file() for p in paths] == [False, False, True, True]     # the oldest went first


def test_an_identity_map_of_2d_latents_is_kept_too():
    Z = _latents(50, d=2)
    key = fit_key(SHA, Z, "identity", {})
    a = ProjectionStore().get_or_fit(key, "identity", {}, Z)
    store = ProjectionStore()
    b = store.get_or_fit(key, "identity", {}, Z)
    assert store.fits_made == 0 and np.array_equal(b.embedding, Z) and np.array_equal(b.inverse(a.embedding), Z)


def test_the_key_of_a_umap_fit_does_not_import_umap(tmp_path, monkeypatch):
    """fit_key runs on the GUI thread; importing umap-learn compiles its numba code for seconds. A stand-in
    package that fails when imported shows it is only looked up."""
    import sys

    (tmp_path / "umap").mkdir()
    (tmp_path / "umap" / "__init__.py").write_text("raise RuntimeError('umap was imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "umap", raising=False)
    key = fit_key(SHA, _latents(), "umap", {"n_neighbors": 10})
    assert len(key) == 64 and "umap" not in sys.modules


def test_a_fit_read_back_counts_as_used_for_the_folder_cap():
    import os

    Z = _latents()
    key = fit_key(SHA, Z, "pca", {})
    ProjectionStore().get_or_fit(key, "pca", {}, Z)
    os.utime(store_path(key), (1e9, 1e9))                        # written long ago
    ProjectionStore().get_or_fit(key, "pca", {}, Z)               # read in a new session
    assert store_path(key).stat().st_mtime > 1e9 + 1
