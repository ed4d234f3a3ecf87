"""Quality metrics on synthetic Gaussians, where the right answers are known, and the classifier file's
checksum guard."""
import json

import numpy as np
import pytest
import torch

from latent_atlas.models.errors import CheckpointError
from latent_atlas.models.quality.classifier import FashionClassifier, load_classifier, save_classifier
from latent_atlas.models.quality.metrics import frechet_distance, kernel_distance, precision_recall

torch.set_num_threads(1)


def _gauss(n, d=8, shift=0.0, scale=1.0, seed=0):
    return np.random.default_rng(seed).normal(shift, scale, size=(n, d))


def test_frechet_distance_of_a_set_with_itself_is_zero():
    a = _gauss(2000)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_grows_with_mean_shift():
    a = _gauss(3000)
    values = [frechet_distance(a, _gauss(3000, shift=s, seed=1)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and values[0] < 0.1 < values[1]
    assert values[3] == pytest.approx(8 * 2.0 ** 2, rel=0.05)       # ||mu||^2 = D * shift^2


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    sd1, sd2 = np.array([0.5, 1.0, 2.0, 1.5]), np.array([1.0, 0.3, 2.5, 1.5])
    a = mu1 + sd1 * rng.standard_normal((200_000, 4))
    b = mu2 + sd2 * rng.standard_normal((200_000, 4))
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((sd1 - sd2) ** 2)   # diagonal: Tr(S1+S2-2 sqrt(S1 S2))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02, abs=0.01)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    same, _ = kernel_distance(_gauss(2000), _gauss(2000, seed=1), subset_size=500, n_subsets=10)
    shifted, _ = kernel_distance(_gauss(2000), _gauss(2000, shift=1.0, seed=1), subset_size=500, n_subsets=10)
    assert abs(same) < 0.01
    assert shifted > 0.1


def test_precision_and_recall_are_one_for_identical_sets_and_drop_for_disjoint_ones():
    a = _gauss(500)
    assert precision_recall(a, a, k=3) == (1.0, 1.0)
    p, r = precision_recall(a, _gauss(500, shift=20.0, seed=1), k=3)
    assert p == 0.0 and r == 0.0


def test_narrow_samples_have_high_precision_and_low_recall():
    real = _gauss(1000, d=2)
    collapsed = _gauss(1000, d=2, scale=0.1, seed=1)                  # mode collapse onto the centre
    p, r = precision_recall(real, collapsed, k=3)
    assert p > 0.95 and r < 0.3


def test_classifier_round_trip_and_checksum_mismatch_is_refused(tmp_path):
    torch.manual_seed(0)
    model = FashionClassifier().eval()
    path = save_classifier(model, tmp_path / "clf.safetensors", test_accuracy=0.5)
    loaded = load_classifier(path)                                   # negative control: intact file loads
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(loaded(x), model(x))
    record = json.loads(path.with_suffix(".json").read_text())
    record["sha256"] = "0" * 64
    path.with_suffix(".json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=r"clf\.safetensors.*does not match"):
        load_classifier(path)


def test_missing_classifier_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(CheckpointError, match=r"nothere\.safetensors.*train_classifier"):
        load_classifier(tmp_path / "nothere.safetensors")
