"""New latents on a fitted t-SNE map (issue 15): placed as openTSNE's transform places them, not averaged
between their neighbours' points; a latent the map was fitted on stays on its own point."""
from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.spatial import cKDTree
from threadpoolctl import threadpool_limits

from latent_atlas.models.latent.projection import make_projection

openTSNE = pytest.importorskip("openTSNE")


@pytest.fixture(scope="module")
def fitted():
    """Four clusters of 6-d latents, their t-SNE map (500 iterations: 250 exaggerated, 250 not), new latents
    (midpoints of two data latents, data latents plus noise), and openTSNE's own transform of them."""
    from openTSNE import TSNEEmbedding, affinity

    with threadpool_limits(limits=1):
        rng = np.random.default_rng(0)
        centres = rng.normal(size=(4, 6)) * 4
        Z = (centres[rng.integers(0, 4, 300)] + rng.normal(size=(300, 6))).astype(np.float32)
        proj = make_projection("tsne", max_iter=500).fit(Z)
        i, j = rng.integers(0, 300, 8), rng.integers(0, 300, 8)
        X = np.concatenate([0.5 * (Z[i] + Z[j]), Z[:8] + 0.7 * rng.normal(size=(8, 6))]).astype(np.float32)
        emb = proj.embedding.astype(np.float64)
        aff = affinity.PerplexityBasedNN(Z.astype(np.float64), perplexity=30, method="exact", n_jobs=1,
                                         random_state=0)
        reference = TSNEEmbedding(emb.copy(), aff, negative_gradient_method="bh", n_jobs=1, random_state=0)
        centre = (emb.max(0) + emb.min(0)) / 2          # openTSNE's transform centres the map it places on
        expected = np.asarray(reference.transform(X.astype(np.float64))) + centre
        d, _ = cKDTree(emb).query(emb, k=2)
        return Z, proj, X, expected, float(np.median(d[:, 1]))


def test_a_new_latent_lands_where_opentsnes_transform_puts_it(fitted):
    _Z, proj, X, expected, spacing = fitted
    with threadpool_limits(limits=1):
        placed = np.concatenate([proj.transform(x[None]) for x in X])    # one at a time, as the editor asks
    miss = np.linalg.norm(placed - expected, axis=1) / spacing
    assert miss.max() < 0.25, miss.round(3)            # within a quarter of the typical neighbour spacing


def test_negative_control_the_neighbour_average_misses_where_tsne_puts_a_new_latent(fitted):
    """What transform did before: the inverse-distance average of the 8 nearest latents' map points. A latent
    between two clusters lands in the empty space between them, many neighbour spacings off."""
    _Z, proj, X, expected, spacing = fitted
    miss = np.linalg.norm(proj._to_map(X) - expected, axis=1) / spacing
    assert np.median(miss) > 1.0 and miss.max() > 5.0, miss.round(2)


def test_a_fitted_latent_and_a_re_encoded_copy_stay_on_their_own_points(fitted):
    Z, proj, _X, _expected, _spacing = fitted
    np.testing.assert_array_equal(proj.transform(Z), proj.embedding)
    noisy = Z[:20] * np.float32(1 + 1e-7)                # what another batch or thread count encodes
    np.testing.assert_array_equal(proj.transform(noisy), proj.embedding[:20])


def test_a_subset_fit_places_on_the_points_tsne_fitted():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(400, 5)).astype(np.float32)
    with threadpool_limits(limits=1):
        proj = make_projection("tsne", max_points=150, max_iter=300).fit(Z)
        placed = proj.transform(Z[:10] + np.float32(0.05))
    assert len(proj.fitted_arrays()["fitted"]) == 150 and np.isfinite(placed).all()
    np.testing.assert_array_equal(proj.transform(Z), proj.embedding)


def test_placing_one_latent_on_a_ten_thousand_point_map_is_quick():
    """The GUI thread places your image and every sample: openTSNE's own transform took 0.4-0.9 s here."""
    from latent_atlas.models.latent.tsne_placement import TSNEPlacement

    rng = np.random.default_rng(2)
    Z = rng.normal(size=(10_000, 16)).astype(np.float32)
    placement = TSNEPlacement(Z, rng.normal(size=(10_000, 2)).astype(np.float32) * 30)
    with threadpool_limits(limits=1):
        placement(Z[:1] + np.float32(0.1))             # warm
        t0 = time.perf_counter()
        placement(Z[1:2] + np.float32(0.1))
    assert time.perf_counter() - t0 < 0.3              # ~21 ms quiet (median of 5); a busy machine doubles it


def test_a_strip_of_frames_keeps_the_quick_neighbour_weighting(fitted):
    """A strip's path (8 to 32 frames) is redrawn on every move of a drag: t-SNE placement of 8 frames costs
    150 ms on a 10,000-point map, so more than PLACED_AT_ONCE latents take the neighbour weighting."""
    from latent_atlas.models.latent.projection import PLACED_AT_ONCE

    _Z, proj, X, expected, spacing = fitted
    frames = X[:PLACED_AT_ONCE + 4]
    np.testing.assert_array_equal(proj.transform(frames), proj._to_map(frames))
    few = X[:PLACED_AT_ONCE]
    assert np.linalg.norm(proj.transform(few) - expected[:PLACED_AT_ONCE], axis=1).max() < 0.25 * spacing
