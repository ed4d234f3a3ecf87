"""The start-up cache (issue 18): a cold open of a checkpoint writes its map; the next start reads it with
numpy alone and the load skips encoding the data set; a damaged, truncated, foreign or hostile cache file is
deleted and ignored (a cold start), never trusted."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from latent_atlas.editor.core import map_cache
from latent_atlas.editor.core.loaded_model import load_for_editor
from latent_atlas.editor.core.recipe import file_sha256


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_ATLAS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "maps"


def cold(path):
    return load_for_editor(path, device=torch.device("cpu"), map_limit=500, use_cache=True)


def test_a_cold_load_writes_the_map_and_a_warm_load_gives_the_same_without_encoding(digits_vae_path, cache,
                                                                                     monkeypatch):
    first = cold(digits_vae_path)
    sha = file_sha256(digits_vae_path)
    cached = map_cache.read_cached(sha, "test", 500, "pca")
    assert cached is not None and len(list(cache.iterdir())) == 1
    assert np.array_equal(cached.latents, first.latents) and np.array_equal(cached.images, first.images)
    assert np.allclose(cached.embedding, first.embedding) and cached.start_index == first.start_index
    assert cached.label_names == first.label_names and np.array_equal(cached.labels, first.labels)
    with torch.inference_mode():
        z = torch.from_numpy(first.latents[first.start_index][None])
        expected = (first.model.decode(z)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert np.abs(cached.first_image.astype(int) - expected.astype(int)).max() <= 1

    import latent_atlas.editor.core.loaded_model as lm
    monkeypatch.setattr(lm, "_encode_all", lambda *a, **k: pytest.fail("a warm load encoded the data set"))
    warm = load_for_editor(digits_vae_path, device=torch.device("cpu"), map_limit=500, cached=cached)
    assert np.allclose(warm.embedding, first.embedding, atol=1e-5) and warm.start_index == first.start_index
    assert warm.sha256 == sha
    assert np.allclose(warm.projection.inverse(warm.embedding[:3]), first.projection.inverse(first.embedding[:3]),
                       atol=1e-4)


def test_another_map_size_or_checkpoint_is_another_entry(digits_vae_path, cache):
    cold(digits_vae_path)
    sha = file_sha256(digits_vae_path)
    assert map_cache.read_cached(sha, "test", 501, "pca") is None
    assert map_cache.read_cached("0" * 64, "test", 500, "pca") is None


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other sha", "labels out of range", "nan latents",
                                    "huge header", "start outside"])
def test_a_bad_cache_file_is_ignored_and_removed(digits_vae_path, cache, damage):
    from safetensors.numpy import load, save

    cold(digits_vae_path)
    sha = file_sha256(digits_vae_path)
    path = map_cache.cache_path(sha, "test", 500, "pca")
    data = path.read_bytes()
    arrays = load(data)
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8:8 + n])["__metadata__"]
    info = json.loads(meta["info"])
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = b"\x00" * 64
    elif damage == "huge header":
        data = (1 << 40).to_bytes(8, "little") + data[8:]
    else:
        if damage == "other sha":
            info["sha256"] = "f" * 64
        elif damage == "labels out of range":
            arrays["labels"] = np.full_like(arrays["labels"], 99)
        elif damage == "nan latents":
            arrays["latents"] = np.full_like(arrays["latents"], np.nan)
        elif damage == "start outside":
            info["start_index"] = 10 ** 9
        data = save(arrays, metadata={**meta, "info": json.dumps(info)})
    path.write_bytes(data)
    assert map_cache.read_cached(sha, "test", 500, "pca") is None
    assert not path.exists()


def test_reading_the_cache_needs_no_torch(digits_vae_path, cache):
    cold(digits_vae_path)
    code = ("import sys; from latent_atlas.editor.core import map_cache; "
            "from latent_atlas.editor.core.recipe import file_sha256; "
            f"c = map_cache.read_cached(file_sha256({str(digits_vae_path)!r}), 'test', 500, 'pca'); "
            "assert c is not None and 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-1500:]


@pytest.mark.slow     # a real process or two, ~10 s: .ci/run's -m slow runs it
def test_the_editor_starts_warm_from_the_cache(digits_vae_path, cache, tmp_path):
    """Two real starts: the first writes the cache, the second shows the cached first image."""
    import os

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    for run in ("cold", "warm"):
        proc = subprocess.run([sys.executable, "-m", "latent_atlas", "--open", str(digits_vae_path), "--device",
                               "cpu", "--screenshot", str(tmp_path / f"{run}.png")], capture_output=True, text=True,
                              timeout=180, env=env)
        assert proc.returncode == 0, proc.stderr[-1500:]
        assert len(list(cache.iterdir())) == 1


def test_a_warm_start_draws_the_cached_map_and_first_image_before_the_model(qtbot, digits_vae_path, cache):
    from latent_atlas.editor.app import create_window, show_cached_map

    first = cold(digits_vae_path)
    _, window = create_window(device="cpu", complete=False)         # before torch's part of start-up
    qtbot.addWidget(window)
    window.controller.map_limit = 500
    try:
        cached = show_cached_map(window, str(digits_vae_path))
        assert cached is not None and window.state.loaded is None
        assert np.array_equal(window.decoded_view.image, cached.first_image)
        assert np.array_equal(window.original_view.image, first.images[first.start_index])
        assert window.map._embedding is not None and len(window.map._embedding) == len(first.latents)
        assert "from the cache" in window.statusBar().currentMessage()
        window.controller.model_loaded.emit(first)                     # the load behind it has finished
        assert window.statusBar().currentMessage() == ""
    finally:
        window.controller.shutdown()
