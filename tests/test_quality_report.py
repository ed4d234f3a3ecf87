"""The quality report on small untrained (1, 28, 28) models: every number is there, in range, and the
command line prints them. Needs the bundled classifier (resources/classifier/); skipped without it."""
import math
import re

import pytest
import torch

from latent_atlas.models.checkpoints.checkpoint import save_checkpoint
from latent_atlas.models.config import GANConfig, VAEConfig
from latent_atlas.models.errors import ConfigError
from latent_atlas.models.quality.classifier import CLASSIFIER_PATH
from latent_atlas.models.quality.features import classify
from latent_atlas.models.quality.report import (
    FD_NAME,
    full_report,
    load_quality_context,
    reconstruction_accuracy,
    sample_quality,
)
from latent_atlas.models.registry import build_model

pytestmark = pytest.mark.skipif(not CLASSIFIER_PATH.is_file(), reason="classifier resource not built")

FASHION = {"name": "fashion-mnist", "image_shape": [1, 28, 28],
           "label_names": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                           "Bag", "Ankle boot"]}


@pytest.fixture(scope="module")
def ctx():
    return load_quality_context(200)


def _save(tmp_path, kind, config, **dataset):
    torch.manual_seed(0)
    path = tmp_path / f"{kind}.safetensors"
    save_checkpoint(path, build_model(kind, config), dataset={**FASHION, **dataset})
    return path


def test_vae_report_has_density_and_quality_numbers(tmp_path, ctx):
    path = _save(tmp_path, "vae", VAEConfig(latent_dim=4, width=8, hidden=32))
    report = full_report(path, ctx, limit=100, k=4)
    for key in ("elbo", "iw_log_likelihood", FD_NAME, "FD train-vs-test floor", "KID",
                "precision (k=3)", "recall (k=3)", "attribute arithmetic accuracy"):
        assert math.isfinite(report[key]), key
    assert 0 <= report["precision (k=3)"] <= 1 and 0 <= report["recall (k=3)"] <= 1
    # an untrained decoder makes grey noise: far further from the test set than the train images are
    assert report[FD_NAME] > 5 * report["FD train-vs-test floor"]


def test_cvae_reports_conditional_accuracy_and_gan_reports_no_encoder_numbers(tmp_path, ctx):
    cvae = _save(tmp_path, "cvae", VAEConfig(latent_dim=4, width=8, hidden=32, cond_dim=10),
                 condition="labels", condition_names=FASHION["label_names"])
    report = full_report(cvae, ctx, limit=100, k=4)
    assert 0 <= report["conditional accuracy"] <= 1 and "attribute arithmetic accuracy" not in report
    assert 0 <= report["reconstruction cond. accuracy"] <= 1
    name, share = report["weakest class"].rsplit(" ", 1)
    assert name in FASHION["label_names"] and 0 <= float(share) <= report["conditional accuracy"]
    gan = _save(tmp_path, "gan", GANConfig(latent_dim=8, width=8))
    report = full_report(gan, ctx, limit=100)
    assert FD_NAME in report and "conditional accuracy" not in report and "elbo" not in report


def test_real_test_images_score_near_the_floor(ctx):
    class Replay(torch.nn.Module):
        """A 'model' whose samples are the train images: as good as a model can be."""
        image_shape, cond_dim, can_encode, latent_dim = (1, 28, 28), 0, False, 1

        def __init__(self, images):
            super().__init__()
            self.images, self.dummy = images, torch.nn.Parameter(torch.zeros(1))

        @property
        def device(self):
            return torch.device("cpu")

        def prior_sample(self, n, temperature=1.0, generator=None):
            return torch.arange(n, dtype=torch.float32)[:, None]

        def decode(self, z, c=None):
            return self.images[z[:, 0].long()].float() / 255.0

    from latent_atlas.models.data import load_dataset

    train = torch.from_numpy(load_dataset("fashion-mnist", split="train", limit=200).images)
    report = sample_quality(Replay(train), ctx)
    assert report[FD_NAME] == pytest.approx(report["FD train-vs-test floor"], rel=1e-6)
    assert report["precision (k=3)"] > 0.5 and report["recall (k=3)"] > 0.5


def test_wrong_image_shape_is_refused_with_the_models_name(ctx):
    model = build_model("vae", VAEConfig(image_shape=(1, 8, 8), latent_dim=2, width=8, hidden=16))
    with pytest.raises(ConfigError, match=r"digits_vae.*\(1, 28, 28\)"):
        sample_quality(model, ctx, name="digits_vae")


def test_command_line_prints_quality_numbers(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = _save(tmp_path, "vae", VAEConfig(latent_dim=4, width=8, hidden=32))
    proc = subprocess.run([sys.executable, str(root / "main.py"), "evaluate", str(path), "--quality",
                           "--samples", "200", "--limit", "100", "--k", "4"], capture_output=True, text=True, check=False,
                          timeout=120, cwd=root, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    lines = {line[:30].strip(): line[30:].split() for line in proc.stdout.splitlines()}
    assert float(lines[FD_NAME][0]) > float(lines["FD train-vs-test floor"][0]) > 0
    assert "elbo" in lines and "FID" not in proc.stdout
    share = float(re.search(r"the classifier is right on ([\d.]+) of these test", proc.stderr).group(1))
    assert 0.8 < share <= 1


def test_reference_vae_is_the_pytorch_examples_mlp_and_trains_with_our_trainer(tmp_path, ctx):
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
    from latent_atlas.models.quality.reference_vae import train_reference_vae

    path = train_reference_vae(tmp_path / "ref.safetensors", 1, limit=256)
    ckpt = load_checkpoint(path)
    assert (ckpt.config.arch, ckpt.config.hidden, ckpt.config.latent_dim) == ("mlp", 400, 20)
    assert ckpt.history["step"][-1] == 2                              # 256 images / batch 128, one epoch
    report = full_report(path, ctx, limit=100, k=4)
    assert report["elbo"] < 0 and math.isfinite(report[FD_NAME])


class _IdentityCVAE(torch.nn.Module):
    """A 'CVAE' whose latent is the image itself: its reconstructions are the test images, exactly."""
    image_shape, cond_dim, can_encode, latent_dim = (1, 28, 28), 10, True, 784

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    @property
    def device(self):
        return torch.device("cpu")

    def encode(self, x, c=None):
        return x.flatten(1), torch.zeros(len(x), 784)

    def decode(self, z, c=None):
        return z.view(-1, 1, 28, 28)


def test_reconstruction_accuracy_of_a_perfect_autoencoder_is_the_classifiers_accuracy(ctx):
    expected = (classify(ctx.classifier, ctx.test_images) == ctx.test_labels).float().mean().item()
    assert expected > 0.8 and ctx.real_accuracy == pytest.approx(expected)
    assert reconstruction_accuracy(_IdentityCVAE(), ctx) == pytest.approx(expected)


def test_reconstruction_accuracy_sees_the_condition(ctx):
    class Blank(_IdentityCVAE):
        def decode(self, z, c=None):          # ignores z: a flat grey image whatever the class
            return torch.full((len(z), 1, 28, 28), 0.5)
    assert reconstruction_accuracy(Blank(), ctx) <= 0.3   # one class at most: about a tenth of the images
