"""Scoring a direction: on a decoder and reader whose answers are known (a planted attribute axis, an axis of
another attribute, a step far off the data), the reader fitted on the fly, the comparison on trained digits
bundled models (VAE and GAN), and the `directions` command's table and its one-line errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_atlas.main import main
from latent_atlas.models.quality import direction_score as score
from latent_atlas.models.quality.direction_report import compare_directions


class AxisDecoder:
    """decode(z) = a (B, 1, 1, D) image of sigmoid(z): pixel j is bright exactly when z_j > 0."""

    device = torch.device("cpu")

    def decode(self, z, c=None):
        return torch.sigmoid(z).view(len(z), 1, 1, -1)


AXIS_READER = score.Reader((), ("a0", "a1", "a2"), lambda images: (None, images.flatten(1).numpy() > 0.5),
                           "pixel > 0.5")


@pytest.fixture
def axis_walk():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((2000, 3)).astype(np.float32)
    start = rng.standard_normal((400, 3)).astype(np.float32)
    start[:, 0] = -np.abs(start[:, 0])                      # none has a0
    index, threshold = score.off_data_index(data)
    return start, index, threshold


def test_walking_the_planted_axis_switches_the_attribute_and_nothing_else(axis_walk):
    start, index, threshold = axis_walk
    s = score.score_direction(AxisDecoder(), np.array([2.0, 0, 0]), start, None, AXIS_READER, "a0", 6.0,
                              index, threshold)
    frac = float((start[:, 0] > -6.0).mean())               # those the step carries past 0
    assert s.hit_rate_before == 0.0 and s.hit_rate == pytest.approx(frac)
    assert s.others_changed == 0.0 and s.n == 400


def test_walking_another_axis_misses_and_changes_that_attribute(axis_walk):
    start, index, threshold = axis_walk
    s = score.score_direction(AxisDecoder(), np.array([0, 1.0, 0]), start, None, AXIS_READER, "a0", 1.0,
                              index, threshold)
    flipped = float(((start[:, 1] < 0) & (start[:, 1] > -1.0)).mean())
    assert s.hit_rate == 0.0
    assert s.others_changed == pytest.approx(flipped / 2)      # a1 flips, a2 stays: the mean of the two
    trusted = score.score_direction(AxisDecoder(), np.array([0, 1.0, 0]), start, None, AXIS_READER, "a0", 1.0,
                                    index, threshold, others={"a2"})
    assert trusted.others_changed == 0.0                      # a1 left out of the count


def test_a_long_step_leaves_the_data(axis_walk):
    start, index, threshold = axis_walk
    near = score.score_direction(AxisDecoder(), np.array([1.0, 0, 0]), start, None, AXIS_READER, "a0", 0.0,
                                 index, threshold)
    far = score.score_direction(AxisDecoder(), np.array([1.0, 0, 0]), start, None, AXIS_READER, "a0", 50.0,
                                index, threshold)
    assert near.off_data < 0.05 and near.off_data == near.off_data_before
    assert far.off_data == 1.0


def test_fitted_reader_reads_shape_position_and_is_deterministic():
    from latent_atlas.models.data import load_dataset

    train = load_dataset("shapes", split="train", limit=600, image_size=32)
    test = load_dataset("shapes", split="test", limit=200, image_size=32)
    reader = score.fitted_reader(train.images, train.labels, train.label_names, train.attributes,
                                 train.attribute_names)
    accuracy = score.reader_accuracy(reader, test.images, test.labels, test.attributes, test.attribute_names)
    assert accuracy["left"] > 0.9 and accuracy["top"] > 0.9 and accuracy["large"] > 0.8
    again = score.fitted_reader(train.images, train.labels, train.label_names, train.attributes,
                                train.attribute_names)
    assert np.array_equal(reader.read(test.images)[1], again.read(test.images)[1])
    with pytest.raises(Exception, match="unknown attribute 'tall'; this data offers square"):
        reader.target("tall")


BUNDLED_VAE = "resources/models/fashion_vae.safetensors"


@pytest.fixture
def fashion_subset(monkeypatch):
    """Fashion-MNIST from the 2,000-image t10k subset in resources/, which then serves both splits."""
    monkeypatch.setenv("LATENT_ATLAS_FASHION_MNIST", "/nonexistent")


def test_fit_and_walk_images_never_overlap_when_one_file_serves_both_splits(fashion_subset):
    from latent_atlas.models.quality.direction_report import _load

    _, _, train, test = _load(BUNDLED_VAE, None, 500, 200)
    assert len(train) == 500 and len(test) == 200
    walked = {im.tobytes() for im in test.images}
    assert not any(im.tobytes() in walked for im in train.images)


def test_comparison_on_the_bundled_vae_ranks_supervised_directions_above_the_random_control(fashion_subset):
    c = compare_directions(BUNDLED_VAE, "Trouser", limit=200, fit=400)
    rows = {r.method: r for r in c.rows}
    assert list(rows) == ["mean", "classifier", "pca", "sefa", "random"]
    assert rows["mean"].cosine_to_mean == pytest.approx(1.0)
    assert c.step == pytest.approx(rows["mean"].direction.score)      # default: the lecture's edit length
    before = rows["mean"].score.hit_rate_before
    for method in ("mean", "classifier"):
        assert rows[method].score.hit_rate > before + 0.4
        assert rows[method].score.hit_rate > rows["random"].score.hit_rate + 0.4
    assert rows["random"].score.hit_rate <= before + 0.05              # negative control: no trousers
    assert 0.7 < rows["classifier"].direction.score <= 1.0             # held-out accuracy
    assert c.reader_accuracy["class"] > 0.9 and c.others == ("class",)


def test_comparison_on_the_bundled_gan_labels_prior_samples_by_the_reader(fashion_subset):
    c = compare_directions("resources/models/fashion_gan.safetensors", "Trouser", methods=("mean", "sefa"),
                           limit=200, fit=400, step=2.0)
    assert "prior samples" in c.fitted_on and c.step == 2.0
    mean, sefa = c.rows
    assert (mean.method, sefa.method) == ("mean", "sefa") and sefa.direction.name.startswith("SeFa")
    assert mean.score.hit_rate > mean.score.hit_rate_before + 0.3


def test_command_prints_the_table(digits_vae_path, capsys):
    assert main(["directions", str(digits_vae_path), "--attribute", "3", "--methods", "mean,pca,random",
                 "--limit", "200", "--fit", "600"]) == 0
    out = capsys.readouterr().out
    assert "(no edit)" in out and "mean difference" in out and "PC" in out and "random" in out
    assert "classifier normal" not in out


@pytest.mark.parametrize("extra, message", [
    (["--attribute", "tall"], "unknown attribute 'tall'; this data offers 0, 1"),
    (["--attribute", "3", "--methods", "mean,magic"], "unknown method magic"),
    (["--attribute", "3", "--step", "-1"], "--step must be a positive number"),
])
def test_command_bad_input_is_one_line(digits_vae_path, capsys, extra, message):
    assert main(["directions", str(digits_vae_path), *extra, "--limit", "50", "--fit", "100"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("latent-atlas: error: ") and message in err and err.count("\n") == 1
