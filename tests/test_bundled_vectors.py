"""The vectors the bundled models ship (scripts/bundle_vectors.py): named for their attribute and method, the
scored direction at its scored step, and none on the CVAE, whose z does not hold the class."""
from __future__ import annotations

import re

import numpy as np
import pytest

from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.quality.direction_report import compare_directions

METHOD_LABELS = ("mean difference", "classifier normal", "PCA", "SeFa")


@pytest.mark.parametrize("stem", ["fashion_vae", "fashion_gan", "shapes_betavae"])
def test_each_shipped_vector_names_its_attribute_and_method_and_weight_one_is_its_scored_step(stem):
    ckpt = load_checkpoint(resource_path("models", f"{stem}.safetensors"))
    names = list(ckpt.dataset["label_names"]) + list(ckpt.dataset.get("attribute_names") or [])
    assert len(ckpt.vectors) >= 2
    for name, entry in ckpt.vectors.items():
        attribute, method = re.fullmatch(r"(.+) \((.+)\)", name).groups()
        assert attribute in names and method in METHOD_LABELS
        assert entry["description"].startswith(f"{attribute}: the best-scoring direction")
        step = float(re.search(r"weight 1 is the scored step ([0-9.]+)", entry["description"]).group(1))
        assert float(entry["vector"].norm()) == pytest.approx(step, abs=0.006)


def test_the_cvae_ships_no_vector():
    assert not load_checkpoint(resource_path("models", "fashion_cvae.safetensors")).vectors


def test_the_vae_trouser_vector_is_the_mean_difference_the_directions_command_finds():
    path = resource_path("models", "fashion_vae.safetensors")
    shipped = load_checkpoint(path).vectors["Trouser (mean difference)"]["vector"].numpy()
    c = compare_directions(path, "Trouser", methods=("mean",), limit=50, fit=2000)
    expected = c.rows[0].direction.vector * np.float32(c.step)
    np.testing.assert_allclose(shipped, expected, rtol=1e-4, atol=1e-5)
