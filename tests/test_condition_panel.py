"""The Condition panel in the real window with a CVAE trained on the digits: choosing the class redraws
the same latent as that class, the row shows the latent under every class, and new images come from the
prior with a visible seed."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from latent_atlas.editor.panels.condition_panel import ConditionPanel, condition_rows
from tests.editor_helpers import open_and_wait
from tests.panel_helpers import decode_reference, open_on_tab, shown, tool


@pytest.fixture
def opened(qtbot, window, digits_cvae_path):
    return open_on_tab(qtbot, window, digits_cvae_path, ConditionPanel)


def one_hot(i: int, n: int = 10) -> np.ndarray:
    c = np.zeros(n, np.float32)
    c[i] = 1.0
    return c


def test_the_panel_is_off_for_a_model_without_condition(qtbot, window, digits_vae_path):
    open_and_wait(qtbot, window, digits_vae_path)
    panel = tool(window, ConditionPanel)
    assert not panel.controls.isEnabled() and panel.hint.isVisibleTo(panel)
    assert not panel.controls.isVisibleTo(panel)                 # not a black, empty row


def test_choosing_a_class_redraws_the_same_latent_as_that_class(qtbot, opened, digits_cvae_path):
    window, panel, _ = opened
    assert panel.controls.isEnabled() and not panel.hint.isVisibleTo(panel) and panel.controls.isVisibleTo(panel)
    assert [panel.classes.itemText(i) for i in range(10)] == list("0123456789")
    z = window.state.latent()
    as_three = decode_reference(digits_cvae_path, z, one_hot(3))
    as_seven = decode_reference(digits_cvae_path, z, one_hot(7))
    assert not np.array_equal(as_three, as_seven)      # the condition matters for this model
    panel.set_class(3)
    shown(qtbot, window, as_three)
    panel.classes.setCurrentIndex(7)
    panel.classes.activated.emit(7)                     # what a user's pick in the combo sends
    shown(qtbot, window, as_seven)
    assert np.array_equal(window.state.condition, one_hot(7)) and np.array_equal(window.state.latent(), z)


def test_the_row_shows_one_latent_under_every_class_and_a_click_uses_one(qtbot, opened, digits_cvae_path):
    window, panel, loaded = opened
    window.controller.select_data_point(20)
    z = loaded.latents[20]
    expected = decode_reference(digits_cvae_path, np.repeat(z[None], 10, 0), np.eye(10, dtype=np.float32))
    qtbot.waitUntil(lambda: panel.row.images is not None and np.array_equal(panel.row.images, expected),
                    timeout=10_000)
    _, h, w, _ = expected.shape
    scene = panel.row.view.mapViewToScene(QPointF(5 * (w + 1) + w / 2, h / 2))
    QTest.mouseClick(panel.row.graphics.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     panel.row.graphics.mapFromScene(scene))
    assert np.array_equal(window.state.condition, one_hot(5)) and panel.classes.currentIndex() == 5
    image = shown(qtbot, window, decode_reference(digits_cvae_path, z, one_hot(5)))
    assert np.abs(image.astype(int) - expected[5]).max() <= 1    # the cell is that image (batched decode)


def test_new_image_samples_the_prior_with_the_seed_shown(qtbot, opened, digits_cvae_path):
    window, panel, _ = opened
    panel.set_class(2)
    panel.seed.setValue(41)
    panel.sample_button.click()
    z = np.random.default_rng(41).standard_normal(4).astype(np.float32)
    assert np.array_equal(window.state.current.base, z) and window.state.current.source == "sample"
    assert panel.seed.value() == 42                               # the next click draws a new image
    first = shown(qtbot, window, decode_reference(digits_cvae_path, z, one_hot(2)))
    panel.sample_button.click()
    z2 = np.random.default_rng(42).standard_normal(4).astype(np.float32)
    second = shown(qtbot, window, decode_reference(digits_cvae_path, z2, one_hot(2)))
    assert not np.array_equal(first, second)
    assert np.array_equal(window.state.condition, one_hot(2))      # sampling keeps the chosen condition


def test_attribute_conditions_flip_one_attribute_per_cell():
    current = np.array([1, 0, 1], np.float32)
    rows = condition_rows(current, one_hot=False)
    assert rows.tolist() == [[0, 0, 1], [1, 1, 1], [1, 0, 0]]
    assert condition_rows(current, one_hot=True).tolist() == np.eye(3).tolist()


@pytest.fixture(scope="module")
def shapes_attribute_cvae_path(tmp_path_factory):
    """A CVAE conditioned on the shapes' five attributes, trained briefly (its images need not be good)."""
    import torch

    from latent_atlas.models.config import VAEConfig
    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.registry import build_model
    from latent_atlas.models.training.events import TrainConfig
    from latent_atlas.models.training.trainer import Trainer

    data = load_dataset("shapes", image_size=16, limit=256)
    cond, names = data.conditions("attributes")
    out = tmp_path_factory.mktemp("models") / "shapes_cvae.safetensors"
    model = build_model("cvae", VAEConfig(image_shape=(1, 16, 16), latent_dim=3, width=8, hidden=32, cond_dim=5))
    trainer = Trainer(model, torch.from_numpy(data.images), torch.from_numpy(cond),
                      TrainConfig(epochs=1, batch_size=64, condition="attributes"), out=out,
                      dataset={**data.describe(), "condition": "attributes", "condition_names": names})
    for _ in trainer.run():
        pass
    return out


def test_attribute_conditions_are_check_boxes(qtbot, window, shapes_attribute_cvae_path):
    loaded = open_and_wait(qtbot, window, shapes_attribute_cvae_path)
    panel = tool(window, ConditionPanel)
    window.tools.setCurrentWidget(panel)
    assert [c.text() for c in panel.checks] == ["large", "left", "top", "rotated", "round"]
    assert not panel.classes.isVisibleTo(panel)
    window.controller.select_data_point(0)
    start = loaded.conditions[0].copy()
    assert [c.isChecked() for c in panel.checks] == [bool(v) for v in start]
    panel.checks[1].click()                                  # flip "left"
    flipped = start.copy()
    flipped[1] = 1.0 - flipped[1]
    assert np.array_equal(window.state.condition, flipped)
    shown(qtbot, window, decode_reference(shapes_attribute_cvae_path, loaded.latents[0], flipped))
    expected = decode_reference(shapes_attribute_cvae_path, np.repeat(loaded.latents[0][None], 5, 0),
                                condition_rows(flipped, one_hot=False))
    qtbot.waitUntil(lambda: panel.row.images is not None and np.array_equal(panel.row.images, expected),
                    timeout=10_000)


@pytest.mark.parametrize("condition, one_hot", [("labels", True), ("attributes", False)])
def test_a_cvae_file_without_condition_names_gets_one_name_per_entry(tmp_path, condition, one_hot):
    """No dataset on this machine and no names in the file: the editor still names every entry, so the
    Condition and Samples panels never index past the list."""
    import torch

    from latent_atlas.editor.core.loaded_model import load_for_editor
    from latent_atlas.models.checkpoints.checkpoint import save_checkpoint
    from latent_atlas.models.config import VAEConfig
    from latent_atlas.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("cvae", VAEConfig(image_shape=(1, 8, 8), latent_dim=2, width=8, hidden=16, cond_dim=3))
    path = save_checkpoint(tmp_path / "bare.safetensors", model,
                           dataset={"name": "gone", "source": str(tmp_path / "gone"), "condition": condition})
    loaded = load_for_editor(path, device=torch.device("cpu"), projection="pca")
    assert loaded.condition_names == ["condition 0", "condition 1", "condition 2"]
    assert loaded.condition_one_hot is one_hot
