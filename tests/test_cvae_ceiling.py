"""scripts/cvae_ceiling.py on the bundled CVAE, in small: every line is printed, the real-image line is the
classifier's own accuracy, the second judge (a LeNet) is right on most real images, and a model that is not a Fashion-MNIST CVAE is refused in one line."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow      # 5,000 test images through the classifier, ~40 s; run by .ci/run with -m slow

ROOT = Path(__file__).resolve().parent.parent
CVAE = ROOT / "resources" / "models" / "fashion_cvae.safetensors"


@pytest.fixture(scope="module")
def ceiling():
    spec = importlib.util.spec_from_file_location("cvae_ceiling", ROOT / "scripts" / "cvae_ceiling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _full_fashion_mnist() -> bool:
    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.errors import DatasetError

    try:
        return len(load_dataset("fashion-mnist", split="train", limit=20_000)) == 20_000
    except DatasetError:
        return False


@pytest.mark.skipif(not CVAE.is_file(), reason="bundled CVAE not built")
def test_prints_every_line_and_the_real_line_is_the_classifiers_accuracy(ceiling, capsys):
    if not _full_fashion_mnist():
        pytest.skip("needs the full Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.quality.classifier import load_classifier
    from latent_atlas.models.quality.features import classify

    assert ceiling.main([str(CVAE), "--n", "500"]) == 0
    rows = {m[0].strip(): [float(v) for v in m[1].split()]
            for m in re.findall(r"^(.{28}) ([\d. ]+)$", capsys.readouterr().out, re.MULTILINE)}
    assert len(rows) == 11 and all(len(v) == 11 and all(0 <= x <= 1 for x in v) for v in rows.values())
    test = load_dataset("fashion-mnist", split="test", limit=500)
    real = (classify(load_classifier(), test.images) == torch.from_numpy(test.labels)).float().mean().item()
    assert rows["real test images"][0] == pytest.approx(real, abs=6e-4)
    assert rows["real, Gaussian blur s=1.0 px"][0] < rows["real test images"][0]      # blur costs accuracy
    assert rows["real test images, LeNet"][0] > 0.8                      # the second judge: ~0.87 on real


def test_refuses_a_model_that_is_not_a_fashion_mnist_cvae(ceiling, digits_vae_path, capsys):
    assert ceiling.main([str(digits_vae_path)]) == 1
    err = capsys.readouterr().err
    assert str(digits_vae_path) in err and "CVAE" in err and len(err.strip().splitlines()) == 1
