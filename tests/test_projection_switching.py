"""Projection fits kept for the session in the real window (issue 15, finding 7: choosing t-SNE again refitted
from scratch), and latents that are not data points placed on a t-SNE map as openTSNE places them."""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

from latent_atlas.editor.core.projection_store import session_store
from tests.editor_helpers import open_and_wait

TSNE = {"max_iter": 300}      # 250 exaggerated iterations and 50 more: a real map of a few hundred points, fast


def fit_tsne(qtbot, window):
    with qtbot.waitSignal(window.controller.projection_ready, timeout=60_000):
        window.request_projection("tsne", **TSNE)
    assert window.state.loaded.projection.method == "tsne"
    return window.state.loaded.embedding.copy()


def test_pca_tsne_pca_tsne_fits_tsne_once_and_shows_the_same_maps(qtbot, window, digits_vae_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    store, pca = session_store(), loaded.embedding.copy()
    started = []
    window.controller.projection_started.connect(started.append)
    tsne = fit_tsne(qtbot, window)
    assert store.fits_made == 1 and started == ["tsne"]
    for method, options, expected in (("pca", {}, pca), ("tsne", TSNE, tsne), ("pca", {}, pca)):
        with qtbot.waitSignal(window.controller.projection_ready, timeout=1000):
            window.request_projection(method, **options)
        assert loaded.projection.method == method and np.array_equal(loaded.embedding, expected)
        np.testing.assert_array_equal(window.map._embedding, expected)        # the map drew it
    assert store.fits_made == 1 and started == ["tsne"]                       # no job, no refit


def test_another_model_and_back_keeps_the_tsne_map(qtbot, window, digits_vae_path, digits_cvae_path):
    open_and_wait(qtbot, window, digits_vae_path)
    tsne = fit_tsne(qtbot, window)
    store = session_store()
    with qtbot.waitSignal(window.controller.projection_ready, timeout=60_000):   # the chosen method follows
        open_and_wait(qtbot, window, digits_cvae_path)
    assert window.state.loaded.projection.method == "tsne" and store.fits_made == 2
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    qtbot.waitUntil(lambda: loaded.projection is not None and loaded.projection.method == "tsne", timeout=5000)
    assert store.fits_made == 2 and np.array_equal(loaded.embedding, tsne)


def test_your_image_and_a_latent_between_clusters_land_where_tsne_puts_them(qtbot, window, digits_vae_path,
                                                                              tmp_path):
    """An encoded data image lands on its own point (well within the neighbour spacing); a latent halfway
    between two digits of different classes lands where openTSNE's own transform puts it (the neighbour
    average it had before put such a latent in the empty space between the clusters)."""
    from openTSNE import TSNEEmbedding, affinity

    loaded = open_and_wait(qtbot, window, digits_vae_path)
    fit_tsne(qtbot, window)
    emb = loaded.embedding.astype(np.float64)
    spacing = float(np.median(cKDTree(emb).query(emb, k=2)[0][:, 1]))
    i = 5
    path = tmp_path / "data image.png"
    Image.fromarray(loaded.images[i][..., 0]).resize((32, 32), Image.Resampling.NEAREST).save(path)
    window.own_image.open(str(path))
    qtbot.waitUntil(lambda: window.state.current.source == "image", timeout=10_000)
    mx, my = window.own_image.marker.getData()
    assert np.linalg.norm(np.array([mx[0], my[0]]) - emb[i]) < 0.1 * spacing
    assert np.allclose(window.state.current.cursor, (mx[0], my[0]))

    a, b = np.flatnonzero(loaded.labels == 0)[0], np.flatnonzero(loaded.labels == 7)[0]
    z = 0.5 * (loaded.latents[a] + loaded.latents[b])
    window.controller.set_latent(z, "sample")
    aff = affinity.PerplexityBasedNN(loaded.latents.astype(np.float64), perplexity=30, method="exact", n_jobs=1)
    reference = TSNEEmbedding(emb.copy(), aff, negative_gradient_method="bh", n_jobs=1, random_state=0)
    expected = np.asarray(reference.transform(z[None].astype(np.float64)))[0] + (emb.max(0) + emb.min(0)) / 2
    cursor = np.array(window.state.current.cursor)
    np.testing.assert_allclose(window.map.cursor_item.position(), cursor)          # the marker is there
    assert np.linalg.norm(cursor - expected) < 0.5 * spacing, (cursor, expected, spacing)


def test_a_model_opened_with_tsne_chosen_says_tsne_in_the_box_and_the_point_line(qtbot, window, digits_vae_path):
    """The load shows PCA and the chosen t-SNE follows: the box said PCA over the t-SNE map, and the line under
    the image kept the point's PCA coordinates."""
    window.controller.projection_method, window.controller.projection_options = "tsne", TSNE
    with qtbot.waitSignal(window.controller.projection_ready, timeout=60_000):
        loaded = open_and_wait(qtbot, window, digits_vae_path)
    qtbot.waitUntil(lambda: loaded.projection.method == "tsne", timeout=5000)
    assert window.map_toolbar.method.currentData() == "tsne"
    x, y = window.state.current.cursor
    assert np.allclose((x, y), loaded.embedding[window.state.current.data_index])
    assert f"map ({x:.2f}, {y:.2f})" in window.info.text()
