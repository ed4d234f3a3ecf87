"""The emoji arithmetic (models/quality/emoji_arithmetic.py) on tiny models and the bundled subset: the numbers are
computed, not asserted; what is checked is that each share counts what it says."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_atlas.models.base import GenerativeModel
from latent_atlas.models.data.emoji_catalogue import PERSONS, TONES
from latent_atlas.models.data.emoji_subset import read_subset
from latent_atlas.models.model_factory import make_model_config
from latent_atlas.models.quality.emoji_arithmetic import (
    EDIT_TONES,
    METHODS,
    SHEET_COLUMNS,
    edit_sheet,
    emoji_arithmetic,
    gender_pairs,
    local_vectors,
    tone_pairs,
)
from latent_atlas.models.quality.emoji_classifier import (
    load_emoji_classifier,
    read_emoji,
    toneable_tone_labels,
)
from latent_atlas.models.registry import build_model


@pytest.fixture(scope="module")
def data():
    return read_subset("hint")


@pytest.fixture(scope="module")
def reader():
    return load_emoji_classifier()


class PixelModel(GenerativeModel):
    """Latent = the picture itself: a decode of an unedited latent is the real render, pixel for pixel."""
    kind = "vae"
    can_encode = True

    def __init__(self):
        super().__init__(make_model_config("vae", (3, 64, 64), latent_dim=4, width=4, hidden=8)[1])
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    @property
    def latent_dim(self):
        return 3 * 64 * 64

    def encode(self, x, c=None):
        return x.flatten(1), torch.zeros(len(x), 3 * 64 * 64)

    def decode(self, z, c=None):
        return z.view(-1, 3, 64, 64).clamp(0, 1)


def test_pairs_join_one_base_toneless_to_toned_and_man_to_woman_of_one_family_and_tone(data):
    for tone in EDIT_TONES:
        pairs = tone_pairs(data, tone)
        assert pairs
        for s, t in pairs:
            assert data.columns["base"][s] == data.columns["base"][t]
            assert (data.columns["tone"][s], data.columns["tone"][t]) == ("none", tone)
    for s, t in gender_pairs(data):
        assert (data.columns["person"][s], data.columns["person"][t]) == ("man", "woman")
        assert data.columns["family"][s] == data.columns["family"][t]
        assert data.columns["tone"][s] == data.columns["tone"][t]


@pytest.mark.slow      # several seconds: the default run stays under CI's 5 minutes
def test_the_no_edit_baseline_of_an_exact_model_is_the_reader_on_the_real_sources(data, reader):
    report = emoji_arithmetic(PixelModel().eval(), data, data, reader)
    tones, persons, _ = read_emoji(reader, data.images)
    for tone in EDIT_TONES:
        sources = [s for s, _ in tone_pairs(data, tone)]
        entry = report["tone"][tone]
        assert entry["no edit"]["n"] == len(sources)
        assert entry["no edit"]["read"] == pytest.approx(np.mean(tones[sources] == TONES.index(tone)))
        # an exact model reconstructs each target as it is: both ceilings are the reader on the real targets
        targets = [t for _, t in tone_pairs(data, tone)]
        real_read = np.mean(tones[targets] == TONES.index(tone))
        assert entry["target recon"]["read"] == pytest.approx(real_read)
        assert entry["real target"]["read"] == pytest.approx(real_read)
        assert entry["target recon"]["right_base"] == entry["real target"]["right_base"] == 1.0
    sources = [s for s, _ in gender_pairs(data)]
    assert report["man->woman"]["no edit"]["read"] == pytest.approx(
        np.mean(persons[sources] == PERSONS.index("woman")))
    # train == test: each tone vector moves the sources to the mean toned picture; the right base is then
    # found at least as often as without the edit
    assert report["summary"]["edit"]["right base"] >= report["summary"]["no edit"]["right base"]


@pytest.mark.slow      # several seconds: the default run stays under CI's 5 minutes
def test_a_tiny_cvae_gets_every_part_of_the_report(data, reader):
    kind, config = make_model_config("cvae", (3, 64, 64), latent_dim=4, width=4, hidden=16, cond_dim=8,
                                     condition="attributes")
    torch.manual_seed(0)
    report = emoji_arithmetic(build_model(kind, config).eval(), data, data, reader, per_tone=16)
    assert set(report["tone"]) == set(EDIT_TONES)
    for entry in report["tone"].values():
        for method in METHODS:
            assert 0.0 <= entry[method]["read"] <= 1.0 and 0.0 <= entry[method]["right_base"] <= 1.0
        assert entry["vector_norm"] > 0
    assert set(report["conditional tone accuracy"]) == set(EDIT_TONES)
    assert set(report["summary"]) == set(METHODS)


def test_the_edit_sheet_shows_source_reconstruction_edits_and_target_of_each_base(data):
    sheet = edit_sheet(PixelModel().eval(), data, data, tone="dark", rows=3)
    assert sheet.shape == (3 * 64, len(SHEET_COLUMNS) * 64, 3) and sheet.dtype == np.uint8
    pairs = tone_pairs(data, "dark")
    picked = [pairs[i] for i in np.linspace(0, len(pairs) - 1, 3).astype(int)]
    cells = sheet.reshape(3, 64, len(SHEET_COLUMNS), 64, 3).transpose(0, 2, 4, 1, 3)     # (row, column, C, H, W)
    for row, (s, t) in enumerate(picked):
        cell = cells[row].__getitem__
        assert np.array_equal(cell(0), data.images[s])                  # source
        assert np.array_equal(cell(1), data.images[s])                  # an exact model's reconstruction
        assert np.array_equal(cell(4), data.images[t])                  # and its reconstruction of the target
        assert np.array_equal(cell(5), data.images[t])                  # real target
        assert not np.array_equal(cell(2), data.images[s])              # the edit changed the picture


def test_a_gan_is_refused_in_words(data, reader):
    kind, config = make_model_config("gan", (3, 64, 64), latent_dim=8, width=4)
    with pytest.raises(ValueError, match="needs a model with an encoder"):
        emoji_arithmetic(build_model(kind, config), data, data, reader)


def test_a_local_vector_is_the_mean_offset_of_the_nearest_training_pairs():
    g = torch.Generator().manual_seed(0)
    # two regions of the latent space where the attribute moves the latent differently
    z_from = torch.cat([torch.randn(20, 3, generator=g), torch.randn(20, 3, generator=g) + 50.0])
    offset = torch.cat([torch.tensor([[1.0, 0, 0]]).expand(20, 3), torch.tensor([[0, 0, -2.0]]).expand(20, 3)])
    z_to = z_from + offset
    held_out = torch.tensor([[0.1, 0.2, 0.0], [50.0, 49.0, 51.0]])
    local = local_vectors(z_from, z_to, held_out, k=5)
    assert torch.allclose(local, torch.tensor([[1.0, 0, 0], [0, 0, -2.0]]))
    assert torch.allclose(local_vectors(z_from, z_to, z_from[:3], k=1), offset[:3])          # its own pair
    assert local_vectors(z_from[:2], z_to[:2], held_out, k=5).shape == (2, 3)             # k above the pairs


def test_the_reader_is_asked_tone_only_of_bases_that_have_tones(data):
    tone = toneable_tone_labels(data.columns)
    toned_bases = set(data.columns["base"][np.isin(data.columns["tone"], EDIT_TONES)])
    for row, label in enumerate(tone):
        if data.columns["base"][row] in toned_bases:
            assert label == TONES.index(data.columns["tone"][row])
        else:
            assert label == -100                                   # a flag, a pizza: never asked its tone
    assert (tone == 0).any() and (tone == -100).any()


def test_the_shipped_reader_reads_held_out_tones_and_persons(data, reader):
    tones, persons, feats = read_emoji(reader, data.images)
    tone_truth = toneable_tone_labels(data.columns)
    person_truth = np.array([PERSONS.index(p) if p in PERSONS else -1 for p in data.columns["person"]])
    assert np.mean(tones[tone_truth >= 0] == tone_truth[tone_truth >= 0]) >= 0.85
    assert np.mean(persons[person_truth >= 0] == person_truth[person_truth >= 0]) >= 0.75
    assert feats.shape == (len(data), 64)
