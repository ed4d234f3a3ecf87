"""Shared test setup: offscreen Qt, small trained models made once per session, real data."""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
# the editor's start-up cache (editor/core/map_cache.py) goes to a folder of this run, never the user's home;
# subprocesses of the tests inherit it
os.environ["LATENT_ATLAS_CACHE"] = tempfile.mkdtemp(prefix="latent-atlas-test-cache-")

import pytest
import torch

torch.set_num_threads(1)   # tests use tiny models: one thread is faster and leaves a core for Qt


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Every test starts with one intra-op thread, whatever ran before it: tiny models on a shared 2-core
    machine, where a second thread only waits on the first (measured: 7 ms per step with one thread, 330 ms
    with two under load) and takes the core Qt needs."""
    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True)
def _projections_fitted_afresh():
    """The editor keeps projection fits for the session and on disk (editor/core/projection_store.py): each
    test starts without them, so a test that waits for a t-SNE fit gets one whatever ran before it."""
    from latent_atlas.editor.core.projection_store import forget_all

    forget_all()
    yield


TINY = {"vae": {"image_shape": [1, 8, 8], "latent_dim": 4, "width": 8, "hidden": 32},
        "cvae": {"image_shape": [1, 8, 8], "latent_dim": 4, "width": 8, "hidden": 32, "cond_dim": 10},
        "gan": {"image_shape": [1, 8, 8], "latent_dim": 4, "width": 8}}


def make_tiny_model(kind: str = "vae", seed: int = 0, **config):
    """The suite's one factory for small untrained models: `kind` with TINY[kind] updated by `config`
    (e.g. arch="mlp", image_shape=[1, 16, 16]), weights from `seed` whatever ran before."""
    from latent_atlas.models.registry import build_model, make_config

    torch.manual_seed(seed)
    return build_model(kind, make_config(kind, {**TINY[kind], **config}))


@pytest.fixture
def tiny_model():
    """make_tiny_model, for tests: tiny_model("gan", latent_dim=8)."""
    return make_tiny_model


@pytest.fixture(scope="session")
def digits_vae_path(tmp_path_factory):
    """A small VAE trained for a few hundred steps on the 8x8 digits, saved as a real checkpoint."""
    from latent_atlas.models.config import VAEConfig
    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.registry import build_model
    from latent_atlas.models.training.events import TrainConfig
    from latent_atlas.models.training.trainer import Trainer

    data = load_dataset("digits")
    out = tmp_path_factory.mktemp("models") / "digits_vae.safetensors"
    torch.manual_seed(0)   # the same weights whatever ran before
    model = build_model("vae", VAEConfig(image_shape=(1, 8, 8), latent_dim=4, width=16, hidden=64))
    trainer = Trainer(model, torch.from_numpy(data.images), None, TrainConfig(epochs=3, batch_size=64),
                      out=out, dataset=data.describe())
    for _ in trainer.run():
        pass
    return out


@pytest.fixture(scope="session")
def digits_cvae_path(tmp_path_factory):
    from latent_atlas.models.config import VAEConfig
    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.registry import build_model
    from latent_atlas.models.training.events import TrainConfig
    from latent_atlas.models.training.trainer import Trainer

    data = load_dataset("digits")
    cond, names = data.conditions("labels")
    out = tmp_path_factory.mktemp("models") / "digits_cvae.safetensors"
    torch.manual_seed(0)   # the same weights whatever ran before
    model = build_model("cvae", VAEConfig(image_shape=(1, 8, 8), latent_dim=4, width=16, hidden=64, cond_dim=10))
    trainer = Trainer(model, torch.from_numpy(data.images), torch.from_numpy(cond), TrainConfig(epochs=3),
                      out=out, dataset={**data.describe(), "condition": "labels", "condition_names": names})
    for _ in trainer.run():
        pass
    return out


@pytest.fixture(scope="session")
def digits_gan_path(tmp_path_factory):
    from latent_atlas.models.config import GANConfig
    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.registry import build_model
    from latent_atlas.models.training.events import TrainConfig
    from latent_atlas.models.training.trainer import Trainer

    data = load_dataset("digits")
    out = tmp_path_factory.mktemp("models") / "digits_gan.safetensors"
    torch.manual_seed(0)   # the same weights whatever ran before
    model = build_model("gan", GANConfig(image_shape=(1, 8, 8), latent_dim=8, width=16))
    trainer = Trainer(model, torch.from_numpy(data.images), None, TrainConfig(epochs=2, lr=2e-4),
                      out=out, dataset=data.describe())
    for _ in trainer.run():
        pass
    return out


@pytest.fixture
def window(qtbot):
    """The real main window, offscreen, on the CPU; its threads are stopped at teardown."""
    from latent_atlas.editor.app import create_window

    _, win = create_window(device="cpu")
    qtbot.addWidget(win)
    win.resize(1200, 760)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.controller.shutdown()
