"""The training panel's probe map, Qt-free: PCA to 2-D and the Procrustes alignment that keeps successive
pictures from flipping or spinning."""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from latent_atlas.editor.core.probe_map import ProbeProjector, align_to, pca_2d, probe_indices


def test_pca_matches_scikit_learn_up_to_the_sign_of_each_axis():
    x = np.random.default_rng(0).normal(size=(300, 8)) * np.arange(1, 9)
    ours, ref = pca_2d(x), PCA(2).fit_transform(x)
    for k in range(2):
        assert np.allclose(np.abs(ours[:, k]), np.abs(ref[:, k]), atol=1e-8)


def test_degenerate_inputs_give_zeros_not_errors():
    assert pca_2d(np.zeros((1, 4))).tolist() == [[0.0, 0.0]]
    one_dim = pca_2d(np.random.default_rng(1).normal(size=(50, 1)))
    assert one_dim.shape == (50, 2) and np.all(one_dim[:, 1] == 0)
    assert np.all(pca_2d(np.full((5, 3), np.nan)) == 0)


def test_alignment_undoes_a_rotation_and_a_reflection():
    rng = np.random.default_rng(2)
    previous = rng.normal(size=(200, 2))
    angle = 1.1
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    for m in (rot, rot @ np.diag([1, -1])):
        np.testing.assert_allclose(align_to(previous @ m, previous), previous, atol=1e-10)
    assert align_to(previous, None) is previous


def test_successive_projections_of_slowly_changing_latents_stay_in_place():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(400, 6)) * [3, 2, 1, 1, 1, 1]
    projector = ProbeProjector()
    first = projector.project(z)
    second = projector.project(-z + 0.01 * rng.normal(size=z.shape))   # every axis flips sign: PCA would too
    assert np.abs(second - first).max() < 0.2


def test_probe_indices_are_fixed_sorted_and_bounded():
    a, b = probe_indices(10_000, seed=4), probe_indices(10_000, seed=4)
    assert np.array_equal(a, b) and len(a) == 500 and np.all(np.diff(a) > 0)
    assert probe_indices(7).tolist() == list(range(7))
