"""A user's own module (issue 14): adapted to the one model interface, opened in the real editor window,
every tool on it, and the routes users take: latent_atlas.view() from their own project folder (which has a
`models` package of its own), --module FILE.py:FACTORY, and latent_atlas.load(FILE)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from own_models import DigitsCVAE, DigitsVAE, Generator, NormalVAE, SpatialVAE, TanhVAE
from PIL import Image

from latent_atlas.editor.python_api import prepare
from latent_atlas.models.adapters.probe import adapt
from latent_atlas.models.data import load_dataset
from latent_atlas.models.errors import ConfigError, LatentAtlasError

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits", split="test")
    return data.images.astype(np.float32) / 255.0, data.labels          # (N, 1, 8, 8) in [0, 1]


def seeded(cls, *args):
    torch.manual_seed(0)
    return cls(*args).eval()


# -- the adapter: what it reads from the module ---------------------------------------------------------
def test_a_flat_output_vae_decodes_and_encodes_exactly_as_the_module(digits):
    net = seeded(DigitsVAE)
    model = adapt(net)
    assert (model.kind, model.latent_dim, model.image_shape, model.config.output_range) == ("vae", 6, (1, 8, 8), "unit")
    z = torch.randn(5, 6)
    assert torch.equal(model.decode(z), net.decode(z).view(5, 1, 8, 8))
    x = torch.from_numpy(digits[0][:7])
    mu, logvar = model.encode(x)
    ref_mu, ref_logvar = net.encode(x)
    assert torch.equal(mu, ref_mu) and torch.equal(logvar, ref_logvar)


def test_tanh_outputs_and_minus_one_to_one_data_are_read_from_the_module_and_the_data(digits):
    net = seeded(TanhVAE)
    images = digits[0][:50] * 2 - 1                                     # what Normalize(0.5, 0.5) gives
    model, data, _ = prepare(net, data=images)
    assert model.config.output_range == "tanh" and model.config.input_range == "tanh"
    z = torch.randn(3, 5)
    assert torch.allclose(model.decode(z), (net.decode(z) + 1) / 2)
    x01 = torch.from_numpy(data.images[:4]).float() / 255
    assert torch.allclose(model.encode(x01)[0], net.encode(x01 * 2 - 1)[0], atol=1e-6)


def test_a_spatial_latent_is_flattened_for_the_tools_and_reshaped_for_decode(digits):
    net = seeded(SpatialVAE)
    with pytest.raises(ConfigError, match="latent_dim is missing"):
        adapt(net)                                                      # no attribute, no data
    model, _, _ = prepare(net, data=digits[0][:20])
    assert model.config.latent_shape == (4, 2, 2) and model.latent_dim == 16
    z = torch.randn(2, 16)
    assert torch.equal(model.decode(z), net.decode(z.view(2, 4, 2, 2)))
    mu, logvar = model.encode(torch.from_numpy(digits[0][:3]))
    assert mu.shape == logvar.shape == (3, 16)


def test_a_generator_alone_is_a_gan_and_gets_its_nz_by_1_by_1_latent():
    net = seeded(Generator)
    model = adapt(net, kind="gan")
    assert model.kind == "gan" and not model.can_encode
    assert model.config.latent_shape == (8, 1, 1) and model.image_shape == (3, 16, 16)
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.allclose(model.decode(z), (net(z.view(2, 8, 1, 1)) + 1) / 2)
    assert not net.training                                             # BatchNorm as at test time


def test_a_conditional_module_needs_its_condition_names(digits):
    net = seeded(DigitsCVAE)
    with pytest.raises(ConfigError, match="condition_names"):
        adapt(net)
    names = [f"digit {i}" for i in range(10)]
    model, data, origin = prepare(net, data=digits[0][:40], labels=digits[1][:40], label_names=names,
                                  condition_names=names)
    assert model.kind == "cvae" and model.cond_dim == 10 and origin["condition_names"] == names
    c = torch.eye(10)[:2]
    assert torch.equal(model.decode(torch.zeros(2, 3), c), net.decode(torch.zeros(2, 3), c))


def test_an_encoder_returning_a_normal_gives_its_mean_and_log_variance(digits):
    net = seeded(NormalVAE)
    x = torch.from_numpy(digits[0][:3])
    mu, logvar = adapt(net).encode(x)
    dist = net.encode(x)
    assert torch.allclose(mu, dist.loc) and torch.allclose(logvar, 2 * dist.scale.log(), atol=1e-6)


@pytest.mark.parametrize(("make", "kwargs", "message"), [
    (lambda: object(), {}, "has no decode"),
    (lambda: seeded(DigitsVAE), {"output_range": "sigmoid"}, "output_range must be one of"),
    (lambda: seeded(DigitsVAE), {"latent_dim": 9}, "decode failed on a prior sample"),
    (lambda: seeded(DigitsVAE), {"image_shape": (3, 8, 8)}, "not an image of shape"),
    (lambda: seeded(Generator), {"kind": "gan", "latent_dim": 8, "image_shape": (1, 16, 16)}, "not an image"),
])
def test_what_does_not_fit_is_one_clear_error(make, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        adapt(make(), **kwargs)


def test_data_in_an_unknown_range_is_refused_with_the_range():
    with pytest.raises(LatentAtlasError, match=r"span \[0, 255\]"):
        prepare(seeded(DigitsVAE), data=np.linspace(0, 255, 64 * 3, dtype=np.float32).reshape(3, 1, 8, 8))


def test_density_needs_the_likelihood_and_then_agrees_with_a_direct_computation(digits):
    from latent_atlas.editor.core.density import density_of, describe

    net = seeded(DigitsVAE)
    z = np.zeros(6, np.float32)
    d = density_of(adapt(net), z)
    assert d.kind == "none" and "likelihood" in describe(d)[0]
    model = adapt(net, likelihood="bernoulli")
    d = density_of(model, z, k=64)
    x = model.decode(torch.from_numpy(z)[None])
    torch.manual_seed(0)
    assert d.kind == "vae" and np.isfinite(d.elbo) and d.elbo < 0
    with torch.no_grad():                                         # the ELBO by hand, its expectation at K=4000
        mu, logvar = net.encode(x)
        zs = mu + torch.randn(4000, 6) * torch.exp(0.5 * logvar)
        p = net.decode(zs).clamp(1e-6, 1 - 1e-6)
        rec = (x.flatten(1) * p.log() + (1 - x.flatten(1)) * (1 - p).log()).sum(1).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()
    assert abs(d.elbo - float(rec - kl)) < 0.05 * abs(float(rec - kl)) + 1.0


# -- the editor on a module: every tool -----------------------------------------------------------------
def open_module(qtbot, window, net, **kwargs):
    model, data, origin = prepare(net, **kwargs)
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60_000):
        window.controller.open_module(model, data, origin)
    qtbot.waitUntil(lambda: window.decoded_view.image is not None, timeout=30_000)
    return window.state.loaded


def test_the_editor_opens_a_module_and_its_tools_work(qtbot, window, digits, tmp_path):
    from editor_helpers import click_map
    from panel_helpers import tool

    from latent_atlas.editor.core.state import AttributeEdit
    from latent_atlas.editor.panels.attribute_panel import AttributePanel

    from latent_atlas.editor.core.attributes import candidates_for, candidate_mask, vector_from_mask
    from latent_atlas.editor.core.strip import strip_latents
    from latent_atlas.editor.core.inversion import encode_image

    net = seeded(DigitsVAE)
    names = [str(i) for i in range(10)]
    loaded = open_module(qtbot, window, net, data=digits[0], labels=digits[1], label_names=names)
    assert loaded.is_module and loaded.name.startswith("DigitsVAE")
    assert len(loaded.latents) == len(digits[0]) and loaded.label_names == names
    assert window.windowTitle().endswith(loaded.name)
    np.testing.assert_allclose(loaded.latents[:5], net.encode(torch.from_numpy(digits[0][:5]))[0].detach().numpy(),
                               atol=1e-5)
    # click an empty spot of the map: the decoded image is the module's decode of the inverse-projected z
    before = window.decoded_view.image.copy()
    x, y = map(float, loaded.embedding.mean(0) + loaded.embedding.std(0) * 1.5)
    click_map(qtbot, window, x, y)
    qtbot.waitUntil(lambda: not np.array_equal(window.decoded_view.image, before), timeout=10_000)
    z = torch.from_numpy(window.state.latent())[None]
    expected = np.rint(net.decode(z).detach().view(8, 8).numpy() * 255)
    assert np.abs(window.decoded_view.image[..., 0].astype(int) - expected).max() <= 1
    # an attribute vector from the labels, a strip, an own image's encoding
    candidate = next(c for c in candidates_for(loaded) if c.name.startswith("3"))
    v = vector_from_mask(loaded.latents, candidate_mask(candidate, loaded.labels, loaded.attributes))
    assert v.shape == (6,) and np.linalg.norm(v) > 0
    frames = strip_latents([loaded.latents[0], loaded.latents[1]], 8)
    assert frames.shape == (8, 6)
    own = np.rint(digits[0][0] * 255).astype(np.uint8)                 # (1, 8, 8), as read_image gives
    assert np.allclose(encode_image(loaded.model, own), loaded.latents[0], atol=1e-2)
    # vectors cannot be written into a checkpoint that does not exist; sessions hold the weights' hash
    panel = tool(window, AttributePanel)
    assert not panel.save_into_button.isEnabled()
    failures = []
    panel._fail = lambda title, text: failures.append(text)
    window.state.edits.append(AttributeEdit("three", v))
    assert panel.save_into_checkpoint(confirm=False) is False
    assert "no checkpoint file to hold the vectors" in failures[0]
    assert panel.save_vectors(str(tmp_path / "v.json"))
    assert json.loads((tmp_path / "v.json").read_text())["checkpoint_sha256"] == loaded.origin["weights_sha256"]
    assert loaded.sha256 == loaded.origin["weights_sha256"] and len(loaded.sha256) == 64


def test_a_gan_generator_opens_with_prior_samples_on_the_map(qtbot, window):
    loaded = open_module(qtbot, window, seeded(Generator), kind="gan")
    assert loaded.kind == "gan" and loaded.images.shape[1:] == (16, 16, 3)
    assert "prior" in loaded.source_note


# -- the routes users take ------------------------------------------------------------------------------
USER_PROJECT = {
    "models/__init__.py": "raise ImportError('Latent Atlas imported the project\\'s own models package')\n",
    "editor/__init__.py": "raise ImportError('Latent Atlas imported the project\\'s own editor package')\n",
    "models/my_vae.py": (HERE / "own_models.py").read_text(),
}


def user_project(tmp_path: Path) -> Path:
    for rel, text in USER_PROJECT.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "my_vae.py").write_text((HERE / "own_models.py").read_text())
    return tmp_path


def run_in(folder: Path, *args, timeout=180) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(folder)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=folder, env=env,
                          timeout=timeout)


@pytest.mark.slow      # several seconds: the default run stays under CI's 5 minutes
def test_view_from_a_users_project_folder_renders_a_screenshot(tmp_path):
    folder = user_project(tmp_path)
    script = textwrap.dedent("""
        import numpy as np
        import latent_atlas
        from sklearn.datasets import load_digits
        from my_vae import build_digits_vae
        d = load_digits()
        out = latent_atlas.view(build_digits_vae(), data=(d.images / 16.0)[:, None], labels=d.target,
                                label_names=[str(i) for i in range(10)], screenshot="shot.png")
        print("returned", out)
    """)
    proc = run_in(folder, "-c", script)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "returned shot.png" in proc.stdout
    with Image.open(folder / "shot.png") as img:
        assert img.size[0] > 800 and len(set(img.convert("L").getdata())) > 20       # a drawn window


def test_the_module_option_from_a_users_project_folder(tmp_path):
    folder = user_project(tmp_path)
    torch.save(seeded(DigitsVAE).state_dict(), folder / "weights.pt")
    proc = run_in(folder, "-m", "latent_atlas", "--module", "my_vae.py:build_digits_vae", "--weights",
                  "weights.pt", "--data", "digits", "--screenshot", "mod.png")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (folder / "mod.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("factory", "message"), [
    ("nope", "has no function or class named 'nope'"),
    ("raises", "raises() raised RuntimeError: out of memory"),
    ("wrong", "wrong() returned int"),
    ("wrong_shape", "image_shape is missing: WrongShape.decode returns (7, 5) per image"),
])
def test_a_bad_factory_is_one_line_and_exit_1(factory, message, tmp_path, capsys, monkeypatch):
    from latent_atlas.main import main

    (tmp_path / "bad.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn
        def raises():
            raise RuntimeError("out of memory")
        def wrong():
            return 42
        class WrongShape(nn.Module):
            latent_dim = 2
            def decode(self, z):
                return torch.sigmoid(torch.randn(z.shape[0], 7, 5))
        def wrong_shape():
            return WrongShape()
    """))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    args = ["--module", f"{tmp_path / 'bad.py'}:{factory}", "--screenshot", str(tmp_path / "x.png")]
    assert main(args) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("latent-atlas: error: ") and message in err[0], err
    assert not (tmp_path / "x.png").exists()


def test_weights_that_do_not_fit_name_the_file(tmp_path, capsys):
    from latent_atlas.main import main

    torch.save(seeded(TanhVAE, 3).state_dict(), tmp_path / "other.pt")
    (tmp_path / "m.py").write_text("from own_models import DigitsVAE\ndef build():\n    return DigitsVAE()\n")
    assert main(["--module", f"{tmp_path / 'm.py'}:build", "--weights", str(tmp_path / "other.pt")]) == 1
    err = capsys.readouterr().err
    assert "other.pt: these weights do not fit" in err and len(err.splitlines()) == 1


def test_lightning_style_model_prefix_in_weights_is_understood(tmp_path):
    from latent_atlas.models.adapters.source import build_from_spec

    net = seeded(DigitsVAE)
    torch.save({"state_dict": {f"model.{k}": v for k, v in net.state_dict().items()}}, tmp_path / "w.ckpt")
    (tmp_path / "m.py").write_text("from own_models import DigitsVAE\ndef build():\n    return DigitsVAE()\n")
    built, source = build_from_spec(f"{tmp_path / 'm.py'}:build", str(tmp_path / "w.ckpt"))
    z = torch.randn(2, 6)
    assert torch.equal(built.decode(z), net.decode(z))
    assert source.weights_sha256 == __import__("latent_atlas.models.adapters.source", fromlist=["_"]) \
        .weights_sha256(net)


def test_load_returns_a_checkpoint_behind_the_interface(digits_vae_path, tmp_path):
    import latent_atlas

    model = latent_atlas.load(digits_vae_path)
    z = torch.zeros(2, model.latent_dim)
    x = model.decode(z)
    assert x.shape == (2, *model.image_shape) and 0 <= float(x.min()) and float(x.max()) <= 1
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (2, model.latent_dim) and model.kind == "vae"
    torch.save({"w": torch.zeros(2)}, tmp_path / "net.pt")
    with pytest.raises(LatentAtlasError, match="net.pt: a PyTorch pickle file; convert it first"):
        latent_atlas.load(tmp_path / "net.pt")


def test_importing_latent_atlas_imports_nothing_heavy():
    proc = subprocess.run([sys.executable, "-c", "import sys, latent_atlas; "
                           "assert not [m for m in ('torch', 'PySide6') if m in sys.modules]"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_a_conditional_module_in_the_editor_draws_under_each_named_condition(qtbot, window, digits):
    from panel_helpers import tool

    from latent_atlas.editor.panels.condition_panel import ConditionPanel
    from latent_atlas.editor.panels.samples_panel import SamplesPanel

    net = seeded(DigitsCVAE)
    names = [f"digit {i}" for i in range(10)]
    loaded = open_module(qtbot, window, net, data=digits[0][:300], labels=digits[1][:300], label_names=names,
                         condition_names=names)
    assert loaded.kind == "cvae" and loaded.condition_names == names and loaded.conditions.shape == (300, 10)
    panel = tool(window, ConditionPanel)
    assert [panel.classes.itemText(i) for i in range(panel.classes.count())] == names
    window.tools.setCurrentWidget(panel)
    panel.set_class(7)
    z = torch.from_numpy(window.state.latent())[None]
    expected = np.rint(net.decode(z, torch.eye(10)[7:8]).detach().view(8, 8).numpy() * 255)
    qtbot.waitUntil(lambda: np.abs(window.decoded_view.image[..., 0].astype(int) - expected).max() <= 1,
                    timeout=10_000)
    samples = tool(window, SamplesPanel)
    window.tools.setCurrentWidget(samples)
    samples.request()
    qtbot.waitUntil(lambda: samples.latents is not None, timeout=10_000)
    assert samples.latents.shape == (samples.rows * samples.cols, 3)


def test_under_ipython_with_gui_qt_view_returns_the_window(qtbot, monkeypatch):
    import types

    import latent_atlas

    shell = types.SimpleNamespace(active_eventloop="qt")
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    win = latent_atlas.view(seeded(DigitsVAE))                    # returns at once: the notebook drives Qt
    try:
        qtbot.addWidget(win)
        qtbot.waitUntil(lambda: win.state.loaded is not None, timeout=30_000)
        assert win.isVisible() and win.state.loaded.is_module
        assert "prior" in win.state.loaded.source_note                # no data: the map shows prior samples
    finally:
        win.controller.shutdown()


def test_recipes_and_sessions_record_the_module_and_say_so_without_it(qtbot, window, digits, digits_vae_path,
                                                                      tmp_path, capsys):
    from latent_atlas.editor.core.recipe import read_recipe
    from latent_atlas.editor.core.session import read_session
    from latent_atlas.main import main

    net = seeded(DigitsVAE)
    loaded = open_module(qtbot, window, net, data=digits[0][:200])
    recipe = window.exports.recipe()
    assert recipe["module"]["module"].startswith("DigitsVAE") and recipe["checkpoint_sha256"] == loaded.sha256
    assert recipe["module"]["weights_sha256"] == loaded.origin["weights_sha256"]
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    assert read_recipe(tmp_path / "r.json")["module"]["weights_sha256"] == loaded.sha256
    # render cannot rebuild a module from a file (it never runs code a file names): one clear line
    assert main(["render", str(tmp_path / "r.json"), "--out", str(tmp_path / "r.png")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "made with your own module DigitsVAE" in err[0] and "--module" in err[0]
    assert not (tmp_path / "r.png").exists()
    # a session: made on the module, it reopens on it; with a checkpoint open instead it says what to open
    errors = []
    window.show_error = lambda title, text: errors.append(text)
    assert window.session.save_session(str(tmp_path / "s.json"))
    assert read_session(tmp_path / "s.json").module["weights_sha256"] == loaded.sha256
    with qtbot.waitSignal(window.session.session_opened, timeout=10_000):
        assert window.session.open_session(str(tmp_path / "s.json"))
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60_000):
        window.open_path(str(digits_vae_path))
    assert window.session.open_session(str(tmp_path / "s.json")) is False
    assert "made with your own module DigitsVAE" in errors[-1] and window.state.loaded.path == digits_vae_path


class DigitsDataset(torch.utils.data.Dataset):
    """What a user's training code has: (image tensor, label) pairs."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i]), int(self.labels[i])


def test_data_as_a_dataset_and_as_a_folder(digits, tmp_path):
    net = seeded(DigitsVAE)
    _, data, _ = prepare(net, data=DigitsDataset(digits[0][:30], digits[1][:30]))
    assert len(data) == 30 and np.array_equal(data.labels, digits[1][:30]) and data.image_shape == (1, 8, 8)
    for i in range(6):
        Image.fromarray((digits[0][i, 0] * 255).astype(np.uint8)).resize((32, 32)).save(tmp_path / f"{i}.png")
    model, folder, _ = prepare(net, data=tmp_path)
    assert len(folder) == 6 and folder.image_shape == (1, 8, 8)           # resized to what the module makes


def test_view_blocks_until_the_window_closes(qtbot):
    import latent_atlas
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def close_when_loaded():
        windows = [w for w in QApplication.topLevelWidgets() if hasattr(w, "state") and w.isVisible()]
        if windows and windows[0].state.loaded is not None:
            windows[0].close()
        else:
            QTimer.singleShot(100, close_when_loaded)

    QTimer.singleShot(100, close_when_loaded)
    assert latent_atlas.view(seeded(DigitsVAE), block=True) is None          # returned after the close


def test_a_module_gan_inverts_and_traverses(qtbot, window):
    from panel_helpers import tool

    from latent_atlas.editor.core.inversion import copy_for_inversion, invert_gan
    from latent_atlas.editor.panels.traversal_panel import TraversalPanel

    loaded = open_module(qtbot, window, seeded(Generator), kind="gan")
    target = loaded.images[3].transpose(2, 0, 1).copy()                # a map sample, (C, H, W) uint8
    result = invert_gan(copy_for_inversion(loaded.model), target, steps=40, restarts=2)
    assert result.z.shape == (8,) and result.error < result.initial_error
    panel = tool(window, TraversalPanel)
    window.tools.setCurrentWidget(panel)
    panel.request()
    qtbot.waitUntil(lambda: panel.latents is not None, timeout=10_000)
    assert panel.latents.shape[1] == 8


def test_a_module_conditioned_on_attributes_gets_check_boxes_and_each_images_own_condition(qtbot, window, digits):
    from panel_helpers import tool

    from latent_atlas.editor.panels.condition_panel import ConditionPanel

    net = seeded(DigitsCVAE, 4)
    names = ["round", "tall", "thin", "dark"]
    rows = (np.random.default_rng(0).random((100, 4)) > 0.5).astype(np.float32)
    loaded = open_module(qtbot, window, net, data=digits[0][:100], condition_names=names,
                         condition_kind="attributes", conditions=rows)
    assert not loaded.condition_one_hot and np.array_equal(loaded.conditions, rows)
    z = torch.from_numpy(digits[0][:3]).flatten(1)
    expected = net.encode(torch.from_numpy(digits[0][:3]), torch.from_numpy(rows[:3]))[0].detach().numpy()
    assert np.allclose(loaded.latents[:3], expected, atol=1e-5) and z.shape == (3, 64)
    panel = tool(window, ConditionPanel)
    assert [c.text() for c in panel.checks] == names
    with pytest.raises(ConfigError, match="conditions= must be"):
        prepare(net, data=digits[0][:100], condition_names=names, condition_kind="attributes", conditions=rows[:5])


@pytest.mark.parametrize(("args", "message"), [
    (["--module", "m.py:build", "--open", "x.safetensors"], "--open and --module each name the model"),
    (["--weights", "w.pt"], "--weights goes with --module"),
    (["--module", "m.py:build", "--latent-shape", "4,x"], "--latent-shape 4,x: expected sizes"),
])
def test_module_options_that_do_not_go_together(args, message, tmp_path, capsys, monkeypatch):
    from latent_atlas.main import main

    (tmp_path / "m.py").write_text("from own_models import DigitsVAE\ndef build():\n    return DigitsVAE()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main(args) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_module_file_imports_its_siblings_and_leaves_the_import_path_as_it_was(tmp_path):
    from latent_atlas.models.adapters.source import build_from_spec

    (tmp_path / "layers_of_mine.py").write_text("from own_models import DigitsVAE as Net\n")
    (tmp_path / "m.py").write_text("from layers_of_mine import Net\ndef build():\n    return Net()\n")
    before = list(sys.path)
    net, source = build_from_spec(f"{tmp_path / 'm.py'}:build")
    assert type(net).__name__ == "DigitsVAE" and source.file == str(tmp_path / "m.py")
    assert sys.path == before


def test_module_condition_names_from_a_celeba_style_file(tmp_path, capsys, monkeypatch):
    from latent_atlas.main import main

    (tmp_path / "m.py").write_text("from own_models import DigitsCVAE\ndef build():\n    return DigitsCVAE(3)\n")
    (tmp_path / "names.txt").write_text("202599\nSmiling Male Young\n1.jpg 1 -1 1\n")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    shot = tmp_path / "s.png"
    assert main(["--module", f"{tmp_path / 'm.py'}:build", "--condition-names", str(tmp_path / "names.txt"),
                 "--screenshot", str(shot)]) == 0
    assert shot.read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "empty.txt").write_text("\n")
    assert main(["--module", f"{tmp_path / 'm.py'}:build", "--condition-names", str(tmp_path / "empty.txt")]) == 1
    assert "no condition names" in capsys.readouterr().err
