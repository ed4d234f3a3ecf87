"""Projection service: PCA/t-SNE/UMAP/identity maps and their inverses (a click on the map -> a latent)."""
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial import Delaunay, cKDTree
from threadpoolctl import threadpool_limits

from latent_atlas.models.latent.projection import (
    UMAP_MISSING,
    ProjectionError,
    ProjectionStopped,
    make_projection,
    umap_available,
)

D = 16


def _latents(n=300, seed=0):
    """Gaussian latents with decreasing spread per axis, centred away from the origin."""
    rng = np.random.default_rng(seed)
    scale = np.linspace(3.0, 0.2, D)
    return (rng.normal(size=(n, D)) * scale + 5.0).astype(np.float32)


@pytest.fixture(scope="module")
def Z():
    return _latents()


@pytest.fixture(autouse=True)
def one_openmp_thread():
    # OpenMP and OpenBLAS threads spin-wait: with other jobs on 2 cores a 0.3 s t-SNE took 10 s on 2 threads
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def tsne(Z):
    with threadpool_limits(limits=1):
        return make_projection("tsne", max_iter=250).fit(Z)   # 250: sklearn's minimum, keeps this fast


@pytest.fixture(scope="module")
def pca_pair(Z):
    return make_projection("pca").fit(Z), make_projection("pca", keep_residual=True).fit(Z)


map_points = arrays(np.float32, st.tuples(st.integers(1, 20), st.just(2)),
                    elements=st.floats(-10, 10, width=32))


@settings(max_examples=50, deadline=None)
@given(P=map_points)
def test_pca_inverse_then_transform_returns_the_clicked_point(pca_pair, P):
    for proj in pca_pair:                                  # keep_residual False and True
        back = proj.transform(proj.inverse(P))
        np.testing.assert_allclose(back, P, atol=1e-4)


def test_round_trip_check_catches_an_inverse_that_ignores_the_mean(pca_pair):
    proj = pca_pair[0]
    P = np.array([[1.0, -2.0], [0.5, 0.5]], dtype=np.float32)
    mean = proj.inverse(np.zeros((1, 2)))                  # the plane passes through the data mean
    broken = proj.inverse(P) - mean                        # what a mean-less inverse, P @ W, would give
    assert np.abs(proj.transform(broken) - P).max() > 1.0  # the round-trip test above would fail
    np.testing.assert_allclose(proj.transform(proj.inverse(P)), P, atol=1e-4)


def test_keep_residual_returns_the_data_point_clicked_on(Z, pca_pair):
    plain, residual = pca_pair
    np.testing.assert_allclose(residual.inverse(residual.embedding), Z, atol=1e-5)
    assert np.abs(plain.inverse(plain.embedding) - Z).max() > 0.1   # without it: only the plane


def test_pca_components_choose_which_axes_are_shown():
    rng = np.random.default_rng(3)
    Z = (rng.normal(size=(300, D)) * np.r_[4.0, 2.0, 1.0, np.full(D - 3, 0.1)]).astype(np.float32)
    proj = make_projection("pca", components=(0, 2)).fit(Z)
    emb = proj.embedding
    # spread 4 > 2 > 1 > 0.1 along axes 0, 1, 2, ...: the third principal component is axis 2
    assert abs(np.corrcoef(emb[:, 0], Z[:, 0])[0, 1]) > 0.95
    assert abs(np.corrcoef(emb[:, 1], Z[:, 2])[0, 1]) > 0.9
    P = np.array([[0.3, -1.2]], dtype=np.float32)
    np.testing.assert_allclose(proj.transform(proj.inverse(P)), P, atol=1e-4)


def test_pca_rejects_components_that_do_not_exist(Z):
    with pytest.raises(ProjectionError, match="do not exist"):
        make_projection("pca", components=(0, D)).fit(Z)
    with pytest.raises(ProjectionError, match="different"):
        make_projection("pca", components=(1, 1))


def test_tsne_inverse_at_each_map_point_is_its_latent_exactly(Z, tsne):
    assert tsne.embedding.shape == (len(Z), 2) and tsne.embedding.dtype == np.float32
    np.testing.assert_array_equal(tsne.inverse(tsne.embedding), Z)
    np.testing.assert_array_equal(tsne.transform(Z), tsne.embedding)


def test_tsne_inverse_inside_a_triangle_blends_its_corners(Z, tsne):
    tri = Delaunay(tsne.embedding.astype(np.float64))
    for s in (0, len(tri.simplices) // 2, len(tri.simplices) - 1):
        corners = tri.simplices[s]
        centre = tsne.embedding[corners].astype(np.float64).mean(0, keepdims=True)
        z = tsne.inverse(centre)[0]
        lo, hi = Z[corners].min(0), Z[corners].max(0)
        assert np.all(z >= lo - 1e-5) and np.all(z <= hi + 1e-5)
        np.testing.assert_allclose(z, Z[corners].mean(0), atol=1e-4)   # centroid: equal weights


def test_tsne_inverse_far_outside_the_hull_is_finite_and_near_the_nearest_points(Z, tsne):
    far = tsne.embedding.max(0, keepdims=True) + 1000.0
    z = tsne.inverse(far)[0]
    assert np.isfinite(z).all()
    _, near = cKDTree(tsne.embedding).query(far[0], k=8)
    assert np.all(z >= Z[near].min(0) - 1e-5) and np.all(z <= Z[near].max(0) + 1e-5)


def test_tsne_max_points_fits_a_subset_and_places_the_rest():
    Z = _latents(400, seed=1)
    proj = make_projection("tsne", max_points=150, max_iter=250).fit(Z)
    assert proj.embedding.shape == (400, 2) and np.isfinite(proj.embedding).all()
    np.testing.assert_array_equal(proj.inverse(proj.embedding), Z)


def test_should_stop_raises_and_keeps_the_previous_fit(Z, pca_pair):
    proj = make_projection("pca").fit(Z)
    before = proj.embedding.copy()
    with pytest.raises(ProjectionStopped):
        proj.fit(Z[:100] * 2, should_stop=lambda: True)
    np.testing.assert_array_equal(proj.embedding, before)


def test_progress_goes_from_zero_to_one(Z):
    seen = []
    make_projection("pca").fit(Z, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_identity_map_is_the_latent_space():
    Z2 = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    proj = make_projection("identity").fit(Z2)
    np.testing.assert_array_equal(proj.embedding, Z2)
    P = np.array([[0.1, 0.2]], dtype=np.float32)
    np.testing.assert_array_equal(proj.inverse(P), P)
    with pytest.raises(ProjectionError, match="2-D latents"):
        make_projection("identity").fit(_latents(10))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, D), np.float32), "at least 3"),
    (np.full((10, D), np.nan, np.float32), "NaN"),
    (np.zeros(5, np.float32), "shape"),
])
def test_bad_latents_are_rejected_with_a_clear_error(bad, match):
    with pytest.raises(ProjectionError, match=match):
        make_projection("pca").fit(bad)


def test_bad_method_options_and_calls_are_projection_errors(Z, pca_pair):
    with pytest.raises(ProjectionError, match="unknown projection"):
        make_projection("mds")
    with pytest.raises(ProjectionError, match="bad options"):
        make_projection("pca", perplexity=5)
    with pytest.raises(ProjectionError, match="not been fitted"):
        make_projection("pca").inverse(np.zeros((1, 2)))
    with pytest.raises(ProjectionError, match="shape"):
        pca_pair[0].inverse(np.zeros((1, 3)))
    with pytest.raises(ProjectionError, match="shape"):
        pca_pair[0].transform(np.zeros((1, D + 1)))


def test_umap_missing_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)        # makes `import umap` raise ImportError
    assert not umap_available()
    with pytest.raises(ProjectionError) as info:
        make_projection("umap")
    assert str(info.value) == UMAP_MISSING


@pytest.mark.skipif(not umap_available(), reason="umap-learn is not installed")
def test_umap_inverse_at_each_map_point_is_its_latent(Z):
    proj = make_projection("umap").fit(Z[:200])
    np.testing.assert_array_equal(proj.inverse(proj.embedding), Z[:200])


def test_tsne_in_a_subprocess_is_cancelled_for_real():
    import threading
    import time

    from latent_atlas.models.latent.projection import ProjectionStopped, make_projection

    Z = np.random.default_rng(0).normal(size=(3000, 8)).astype(np.float32)
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    t0 = time.perf_counter()
    with pytest.raises(ProjectionStopped):
        make_projection("tsne", in_subprocess=True).fit(Z, should_stop=stop.is_set)
    assert time.perf_counter() - t0 < 15   # a full t-SNE of 3,000 points takes far longer here


def test_tsne_in_a_subprocess_gives_the_same_map_as_in_process():
    from latent_atlas.models.latent.projection import make_projection

    Z = np.random.default_rng(1).normal(size=(120, 4)).astype(np.float32)
    a = make_projection("tsne", max_iter=250).fit(Z).embedding
    b = make_projection("tsne", max_iter=250, in_subprocess=True).fit(Z).embedding
    assert np.allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("in_subprocess", [False, True])
def test_tsne_reports_real_progress(in_subprocess):
    """Issue 15, finding 7: t-SNE's bar was indeterminate for minutes. openTSNE reports its iterations;
    they reach the caller from the child process too."""
    Z = np.random.default_rng(2).normal(size=(400, 6)).astype(np.float32)
    seen = []
    make_projection("tsne", max_iter=300, in_subprocess=in_subprocess).fit(Z, progress=seen.append)
    inside = [f for f in seen if 0.0 < f < 0.9]
    assert len(set(inside)) >= 10, seen           # every 10 of 300 iterations, not a jump from 0 to 0.9
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0


def test_tsne_stops_between_iterations_in_process():
    from latent_atlas.models.latent.projection import ProjectionStopped

    Z = np.random.default_rng(3).normal(size=(400, 6)).astype(np.float32)
    seen = []
    with pytest.raises(ProjectionStopped):
        make_projection("tsne", max_iter=1000).fit(Z, progress=seen.append, should_stop=lambda: len(seen) > 5)
    assert max(seen) < 0.5, "it stopped early, not at the end of the fit"


def test_tsne_without_opentsne_falls_back_to_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "openTSNE", None)
    Z = np.random.default_rng(4).normal(size=(60, 4)).astype(np.float32)
    proj = make_projection("tsne", max_iter=250).fit(Z)
    assert proj.embedding.shape == (60, 2) and np.isfinite(proj.embedding).all()
