"""Attribute vectors without Qt: what they are on real digits latents, what adding them does,
orthogonalising, vector files (round trips and bad files) and saving into a checkpoint."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from latent_atlas.editor.core import attributes as attrs
from latent_atlas.editor.core.bundled import MODELS_DIR
from latent_atlas.editor.core.loaded_model import load_for_editor
from latent_atlas.editor.core.state import AttributeEdit, CurrentPoint, EditorState
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.data.shapes import make_shapes


@pytest.fixture(scope="module")
def digits(digits_vae_path):
    return load_for_editor(digits_vae_path, device=torch.device("cpu"))


def nearest_class(z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    return ((z[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)


def test_candidates_list_each_class_against_the_rest(digits):
    found = attrs.candidates_for(digits)
    assert [c.label for c in found] == [f"{d} vs rest" for d in "0123456789"]
    assert found[3].count == int((digits.labels == 3).sum())


def test_candidates_of_shapes_include_its_five_factors_and_three_shapes():
    data = make_shapes("test", image_size=16, count=200)
    found = attrs.attribute_candidates(data.labels, data.label_names, data.attributes, data.attribute_names)
    names = [c.name for c in found if c.source == "attribute"]
    assert names == ["large", "left", "top", "rotated", "round"]
    assert [c.label for c in found if c.source == "label"] == ["square vs rest", "ellipse vs rest", "heart vs rest"]
    left = next(c for c in found if c.name == "left")
    assert np.array_equal(attrs.candidate_mask(left, data.labels, data.attributes), data.factors[:, 3] < 0.5)


def test_candidates_skip_an_attribute_every_image_has():
    attributes = np.array([[1, 0], [1, 1], [1, 0]], np.float32)
    found = attrs.attribute_candidates(None, [], attributes, ["always", "sometimes"])
    assert [c.name for c in found] == ["sometimes"]


def test_class_vector_points_from_the_other_classes_mean_to_the_class_mean(digits):
    z, y = digits.latents, digits.labels
    q = attrs.vector_from_mask(z, y == 0)
    np.testing.assert_allclose(z[y != 0].mean(0) + q, z[y == 0].mean(0), atol=1e-5)
    # a real class is a consistent direction: far longer than the vector of a random split of the same size
    rng = np.random.default_rng(0)
    random_norms = [np.linalg.norm(attrs.vector_from_mask(z, rng.permutation(y == 0))) for _ in range(20)]
    assert np.linalg.norm(q) > 3 * np.median(random_norms)


def test_adding_a_class_vector_moves_other_digits_toward_that_class(digits):
    z, y = digits.latents, digits.labels
    centroids = np.stack([z[y == k].mean(0) for k in range(10)])

    def share_nearest(k, alpha):
        """Of the images of other classes, the share whose latent + alpha * q_k is nearest class k's centroid."""
        q = attrs.vector_from_mask(z, y == k)
        return float((nearest_class(z[y != k] + alpha * q, centroids) == k).mean())

    shares = np.array([[share_nearest(k, a) for a in (0.0, 2.0, -2.0)] for k in range(10)])  # (class, alpha)
    before, plus, minus = shares.T
    assert plus[0] > 2 * before[0] and plus[0] > before[0] + 0.2, shares[0]   # digit 0 itself
    assert plus.mean() > 0.3 and plus.mean() > 4 * before.mean(), shares      # and digits in general
    # negative control: the opposite sign moves them away
    assert minus[0] <= before[0] and minus.mean() < before.mean(), shares


def test_group_vector_is_mean_of_a_minus_mean_of_b(digits):
    z = digits.latents
    a, b = np.arange(0, 30), np.arange(100, 160)
    np.testing.assert_allclose(attrs.vector_from_groups(z, a, b), z[a].mean(0) - z[b].mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="both groups"):
        attrs.vector_from_groups(z, a, [])


def test_strip_latents_match_the_state_latent_bit_for_bit():
    rng = np.random.default_rng(1)
    state = EditorState()
    state.edits = [AttributeEdit("a", rng.standard_normal(6).astype(np.float32), 0.7),
                   AttributeEdit("b", rng.standard_normal(6).astype(np.float32), -1.3)]
    state.set_point(CurrentPoint(rng.standard_normal(6).astype(np.float32), None))
    alphas = np.linspace(-2, 2, 9)
    frames = attrs.latents_with_weight(state.current.base, state.edits, "b", alphas)
    for alpha, frame in zip(alphas, frames):
        state.set_edit_weight("b", float(alpha))
        assert np.array_equal(frame, state.latent())


def test_orthogonalised_vector_has_no_component_along_the_others(digits):
    z, y = digits.latents, digits.labels
    vectors = [attrs.vector_from_mask(z, y == k) for k in (0, 6, 9)]
    before = attrs.cosine_table(vectors)
    assert abs(before[0, 1]) > 0.05 or abs(before[0, 2]) > 0.05   # the test is moot on orthogonal inputs
    vectors[0] = attrs.orthogonalised(vectors, 0)
    after = attrs.cosine_table(vectors)
    assert abs(after[0, 1]) < 1e-4 and abs(after[0, 2]) < 1e-4
    np.testing.assert_allclose(np.diag(after), 1.0, atol=1e-5)
    assert np.linalg.norm(vectors[0]) > 0


def test_json_round_trip_keeps_names_descriptions_and_exact_values(tmp_path):
    rng = np.random.default_rng(2)
    vectors = [AttributeEdit("smile", rng.standard_normal(5).astype(np.float32), 1.5, "with minus without"),
               AttributeEdit("A − B", rng.standard_normal(5).astype(np.float32), 0.0, "")]
    path = attrs.save_vectors_file(tmp_path / "v.json", vectors, 5, checkpoint_sha256="ab" * 32)
    found = attrs.load_vectors_file(path, 5)
    assert [e.name for e in found.vectors] == ["smile", "A − B"]
    assert [e.description for e in found.vectors] == ["with minus without", ""]
    assert all(np.array_equal(a.vector, b.vector) for a, b in zip(vectors, found.vectors))
    assert all(e.weight == 0.0 for e in found.vectors) and found.checkpoint_sha256 == "ab" * 32
    assert json.loads(path.read_text())["latent_dim"] == 5


def test_npy_round_trip_names_vectors_after_the_file(tmp_path):
    rng = np.random.default_rng(3)
    vectors = [AttributeEdit(n, rng.standard_normal(4).astype(np.float32)) for n in ("x", "y")]
    found = attrs.load_vectors_file(attrs.save_vectors_file(tmp_path / "dirs.npy", vectors, 4), 4)
    assert [e.name for e in found.vectors] == ["dirs 1", "dirs 2"]
    assert np.array_equal(np.stack([e.vector for e in found.vectors]), np.stack([e.vector for e in vectors]))
    np.save(tmp_path / "one.npy", np.ones(4, np.float64))
    assert [e.name for e in attrs.load_vectors_file(tmp_path / "one.npy", 4).vectors] == ["one"]


def _vector_json(path, latent_dim=4, vectors=None, **extra):
    doc = {"format": attrs.VECTORS_FORMAT, "version": 1, "latent_dim": latent_dim,
           "vectors": vectors if vectors is not None else [{"name": "v", "vector": [0.1, 0.2, 0.3, 0.4]}]}
    path.write_text(json.dumps({**doc, **extra}))
    return path


@pytest.mark.parametrize("make, problem", [
    (lambda p: _vector_json(p, latent_dim=16), "16 dimensions, the open model's latent has 4"),
    (lambda p: _vector_json(p, vectors=[{"name": "v", "vector": [1, 2, 3]}]), "has 3 numbers"),
    (lambda p: _vector_json(p, vectors=[{"name": "v", "vector": [1, 2, 3, "x"]}]), r"vectors\[0\].vector\[3\]: expected a number"),
    (lambda p: p.write_text('{"format": "latent-atlas-vectors", "latent_dim": 4, '
                            '"vectors": [{"name": "v", "vector": [1, 2, NaN, 4]}]}'), "NaN"),
    (lambda p: _vector_json(p, vectors=[{"name": "v", "vector": [0, 0, 0, 0]}] * 2), "a name of its own"),
    (lambda p: _vector_json(p, vectors=[]), "vectors: has 0 items; expected 1..1,000"),
    (lambda p: _vector_json(p, format="something-else"), "not a Latent Atlas vector file"),
    (lambda p: p.write_text("{ not json"), r"not a vector file \(invalid JSON"),
    (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), r"not a vector file \(not UTF-8 text\)"),
])
def test_bad_vector_files_raise_an_error_naming_the_file(tmp_path, make, problem):
    path = tmp_path / "bad.json"
    make(path)
    with pytest.raises(attrs.VectorFileError, match=problem) as info:
        attrs.load_vectors_file(path, 4)
    assert str(path) in str(info.value)


def test_a_good_vector_file_loads(tmp_path):
    # negative control for the bad files above: the same helper with nothing broken loads
    assert attrs.load_vectors_file(_vector_json(tmp_path / "good.json"), 4).vectors[0].name == "v"


def test_bad_npy_files_are_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(attrs.VectorFileError, match="objects.npy"):
        attrs.load_vectors_file(tmp_path / "objects.npy", 4)
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 4), np.float32))
    with pytest.raises(attrs.VectorFileError, match=r"cube.npy: expected an array \(D,\) or \(K, D\)"):
        attrs.load_vectors_file(tmp_path / "cube.npy", 4)
    with pytest.raises(attrs.VectorFileError, match="missing.json"):
        attrs.load_vectors_file(tmp_path / "missing.json", 4)


def test_vectors_saved_into_a_checkpoint_come_back_when_it_is_loaded(tmp_path, digits_vae_path):
    path = shutil.copy(digits_vae_path, tmp_path / "copy.safetensors")
    vector = np.arange(4, dtype=np.float32) / 7
    attrs.save_into_checkpoint(path, [AttributeEdit("up", vector, 2.0, "made in a test")])
    found = attrs.vectors_from_checkpoint(load_checkpoint(path).vectors)
    assert [(e.name, e.description, e.weight) for e in found] == [("up", "made in a test", 0.0)]
    assert np.array_equal(found[0].vector, vector)


def test_bundled_checkpoints_are_never_rewritten(tmp_path):
    target = MODELS_DIR / "any_model.safetensors"
    assert attrs.is_bundled(target) and not attrs.is_bundled(tmp_path / "x.safetensors")
    with pytest.raises(attrs.VectorFileError, match="bundled model: save the vectors to a JSON or .npy file"):
        attrs.save_into_checkpoint(target, [AttributeEdit("v", np.zeros(4, np.float32))])
    assert not target.exists()
