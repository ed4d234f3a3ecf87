"""The data point the editor shows first: the middle of the densest cluster of the map, never the empty
middle between clusters."""
import numpy as np

from latent_atlas.editor.core.loaded_model import densest_point


def test_picks_a_point_of_the_tight_cluster():
    rng = np.random.default_rng(0)
    loose = rng.normal(0, 1.0, size=(300, 2))
    tight = rng.normal(10, 0.1, size=(300, 2))
    i = densest_point(np.concatenate([loose, tight]).astype(np.float32))
    assert i >= 300


def test_two_clusters_with_empty_middle_start_inside_one_of_them():
    rng = np.random.default_rng(1)
    E = np.concatenate([rng.normal(-5, 0.5, size=(200, 2)), rng.normal(5, 0.5, size=(200, 2))])
    middle = int(np.argmin((E ** 2).sum(1)))            # what "nearest the centre of the map" would pick
    i = densest_point(E)
    assert i != middle and np.linalg.norm(E[i]) > 3     # inside a cluster, well away from the gap
    assert np.abs(np.abs(E[i]) - 5).max() < 0.5          # near one cluster's middle


def test_tiny_maps():
    assert densest_point(np.zeros((1, 2), np.float32)) == 0
    assert densest_point(np.array([[0, 0], [1, 1], [1, 1.01]], np.float32)) in (1, 2)
