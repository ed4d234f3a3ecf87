"""Edit directions with known answers: PCA recovers a planted axis, SeFa the right singular vectors of a known
first layer (and finds that layer in each of our networks), the mean difference and the classifier normal
their own optima on Gaussians whose answers differ, and the InterFaceGAN projection keeps a protected
read-out still. Negative controls: isotropic latents give PCA no axis, random labels give chance accuracy."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latent_atlas.models.adapters.module_model import ModuleConfig, ModuleModel
from latent_atlas.models.latent import directions as dirs
from latent_atlas.models.latent.latent_math import conditional_direction
from tests.conftest import make_tiny_model
from tests.own_models import DigitsVAE


def degrees(a, b) -> float:
    """The angle between two directions, sign ignored."""
    cos = abs(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))))
    return math.degrees(math.acos(min(cos, 1.0)))


def planted(dim=8, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(dim)
    u /= np.linalg.norm(u)
    return rng, u, rng.standard_normal((n, dim)) * 0.3 + rng.standard_normal((n, 1)) * 2.0 * u


def test_pca_recovers_a_planted_axis_and_ranks_by_variance():
    _, u, z = planted()
    found = dirs.pca_directions(z)
    assert degrees(found[0].vector, u) < 2.0
    shares = [d.score for d in found]
    assert shares == sorted(shares, reverse=True) and math.isclose(sum(shares), 1.0, rel_tol=1e-9)
    assert shares[0] > 0.8                                   # 4.0 / (4.0 + 8 * 0.09) of the variance
    assert all(math.isclose(np.linalg.norm(d.vector), 1.0, rel_tol=1e-5) for d in found)


def test_pca_of_isotropic_latents_has_no_leading_axis():
    z = np.random.default_rng(1).standard_normal((4000, 8))
    shares = [d.score for d in dirs.pca_directions(z)]
    assert max(shares) < 0.16 and min(shares) > 0.09        # all near 1/8: the ranking means nothing


def test_sefa_returns_the_right_singular_vectors_of_a_known_layer():
    rng = np.random.default_rng(2)
    u, _ = np.linalg.qr(rng.standard_normal((20, 4)))        # (out, D) orthonormal columns
    v, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    s = np.array([5.0, 3.0, 1.0, 0.5])
    found = dirs.sefa_directions(u @ np.diag(s) @ v.T)
    for i, d in enumerate(found):
        assert degrees(d.vector, v[:, i]) < 1e-3
    assert np.allclose([d.score for d in found], s ** 2 / (s ** 2).sum())


@pytest.mark.parametrize("kind, config", [("gan", {}), ("vae", {}), ("vae", {"arch": "mlp"}), ("cvae", {}),
                                          ("vae", {"arch": "zoo", "hidden_dims": [8, 16], "image_shape": [3, 8, 8]}),
                                          ("cvae", {"arch": "zoo", "hidden_dims": [8, 16], "image_shape": [3, 8, 8]})])
def test_sefa_finds_the_first_layer_that_maps_z_linearly(kind, config):
    model = make_tiny_model(kind, **config).eval()
    w = model.latent_weight()
    assert w.shape[1] == model.latent_dim
    z = torch.randn(5, model.latent_dim)
    with torch.no_grad():
        if kind == "gan":
            out = model.generator.main[0](z.view(5, -1, 1, 1)).flatten(1)
        else:
            layer = {"conv": lambda: model.dec_fc[0], "mlp": lambda: model.fc3,
                     "zoo": lambda: model.decoder_input}[model.config.arch]()
            c = torch.rand(5, model.cond_dim)
            out = layer(torch.cat([z, c], 1)) - layer(torch.cat([torch.zeros_like(z), c], 1))
    assert torch.allclose(out, z @ w.T, atol=1e-5)           # the layer's z part is exactly W z
    assert len(dirs.model_sefa_directions(model, k=2)) == 2


def test_sefa_says_so_when_a_model_has_no_known_first_layer():
    net = DigitsVAE(latent_dim=6)
    model = ModuleModel(net, ModuleConfig(image_shape=(1, 8, 8), latent_shape=(6,)))
    with pytest.raises(dirs.DirectionError, match="first layer is a linear map of z"):
        dirs.model_sefa_directions(model)


def gaussians(n=8000, seed=3):
    """Two classes with a shared, stretched covariance: the mean difference is (1, 1, 0, 0) and the Bayes
    boundary's normal Sigma^-1 (1, 1, 0, 0) = (1/9, 1, 0, 0), 38 degrees apart."""
    rng = np.random.default_rng(seed)
    scale = np.array([3.0, 1.0, 1.0, 1.0])
    delta = np.array([1.0, 1.0, 0.0, 0.0])
    mask = np.arange(n) < n // 2
    z = rng.standard_normal((n, 4)) * scale + np.where(mask[:, None], delta / 2, -delta / 2)
    return z, mask, delta, delta / scale ** 2


@pytest.mark.parametrize("kind", ["logistic", "svm"])
def test_mean_difference_and_classifier_normal_find_their_own_optimum(kind):
    z, mask, delta, bayes = gaussians()
    assert degrees(delta, bayes) > 30
    mean = dirs.mean_difference(z, mask)
    normal = dirs.classifier_normal(z, mask, kind=kind)
    assert degrees(mean.vector, delta) < 5 and float(mean.vector @ delta) > 0
    assert degrees(normal.vector, bayes) < 5 and float(normal.vector @ bayes) > 0    # points to "with"
    assert 0.65 < normal.score < 0.8          # Bayes accuracy Phi(|Sigma^-1/2 delta| / 2) = Phi(0.53) = 0.70


def test_classifier_on_random_labels_scores_chance():
    z = np.random.default_rng(4).standard_normal((2000, 6))
    mask = np.random.default_rng(5).random(2000) < 0.5
    assert 0.42 < dirs.classifier_normal(z, mask).score < 0.58


def test_one_sided_labels_and_equal_means_are_clear_errors():
    z = np.random.default_rng(6).standard_normal((10, 3))
    with pytest.raises(dirs.DirectionError, match="no latents with"):
        dirs.mean_difference(z, np.zeros(10, bool))
    with pytest.raises(dirs.DirectionError, match="zero"):
        dirs.mean_difference(np.ones((10, 3)), np.arange(10) < 5)
    with pytest.raises(dirs.DirectionError, match="at least 4"):
        dirs.classifier_normal(z, np.arange(10) < 2)


def test_nearest_flips_the_sign_towards_the_reference():
    found = dirs.pca_directions(planted()[2])
    d, cos = dirs.nearest(found, -found[2].vector)
    assert d.name == found[2].name and cos == pytest.approx(1.0) and np.allclose(d.vector, -found[2].vector)


def test_conditional_edit_keeps_a_protected_classifier_score_still():
    """Attribute A leans on attribute B's axis; editing along A's mean difference moves B's classifier,
    editing along it with B projected out (InterFaceGAN) leaves B's score unchanged."""
    rng = np.random.default_rng(7)
    z = rng.standard_normal((3000, 5))
    has_b = z[:, 1] > 0
    has_a = z[:, 0] + 0.8 * z[:, 1] > 0                       # correlated with B
    a = dirs.mean_difference(z, has_a)
    b = dirs.classifier_normal(z, has_b)
    from sklearn.linear_model import LogisticRegression
    reader_b = LogisticRegression().fit(z, has_b)            # an independent read-out of B
    kept, removed = conditional_direction(torch.from_numpy(a.vector), [torch.from_numpy(b.vector)])
    assert removed == pytest.approx(abs(float(a.vector @ b.vector)), abs=1e-5)
    assert removed > 0.4
    start = z[~has_a][:200]
    score = reader_b.decision_function
    moved = np.abs(score(start + 3 * a.vector) - score(start)).mean()
    kept_moved = np.abs(score(start + 3 * kept.numpy()) - score(start)).mean()
    assert moved > 1.0                                        # negative control: the plain edit moves B
    assert kept_moved < 0.1 * moved                           # b is B's fitted normal, not reader_b's own
