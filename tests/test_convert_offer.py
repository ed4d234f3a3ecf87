"""File > Open of a PyTorch file: the editor asks, converts on a job thread and opens the result; it never
opens the pickle itself. Dialog answers are given by patching QMessageBox.exec and QFileDialog."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QFileDialog, QMessageBox

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.models.checkpoints.checkpoint import save_checkpoint
from tests.test_convert_zoo import ZooVanillaVAE, trained_statistics


@pytest.fixture
def zoo_pth(tmp_path):
    """A small zoo VanillaVAE (16 x 16, hidden_dims 4, 8) as a plain state dict, and its network."""
    torch.manual_seed(0)
    net = trained_statistics(ZooVanillaVAE(3, 5, [4, 8], img_size=16), 16)
    torch.save(net.state_dict(), tmp_path / "zoo.pth")
    return tmp_path / "zoo.pth", net


def answer(monkeypatch, button, save_as=None):
    """The question is answered with `button`; the save dialog returns `save_as` ("" = cancelled).
    Returns the lists of questions asked and save dialogs shown."""
    questions, saves = [], []

    def exec_(box):
        questions.append(box.text())
        box.button(button).click()
        return 0
    monkeypatch.setattr(QMessageBox, "exec", exec_)
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (saves.append(a[2]), (str(save_as or ""), ""))[1]))
    return questions, saves


def test_yes_converts_off_the_gui_thread_and_opens_the_result(qtbot, window, zoo_pth, monkeypatch):
    src, net = zoo_pth
    out = src.parent / "chosen.safetensors"
    questions, saves = answer(monkeypatch, QMessageBox.StandardButton.Yes, out)
    with qtbot.waitSignal(window.controller.model_loaded, timeout=30_000):
        window.open_path(str(src))
        assert window.convert_offer.job is not None          # converting on a job, the GUI thread is free
    assert questions == ["zoo.pth is a PyTorch file; convert it to a Latent Atlas checkpoint?"]
    assert saves == [str(src.with_suffix(".safetensors"))]    # suggested next to the file
    loaded = window.state.loaded
    assert loaded.path == out and loaded.model.config.arch == "zoo" and loaded.model.image_shape == (3, 16, 16)
    qtbot.waitUntil(lambda: window.decoded_view.image is not None, timeout=10_000)
    z = torch.from_numpy(window.state.latent())[None]
    with torch.no_grad():
        expected = images_to_hwc_uint8(net.decode(z).clamp(0, 1))[0]    # the original network, as shown
    qtbot.waitUntil(lambda: np.array_equal(window.decoded_view.image, expected), timeout=10_000)
    assert window.errors == []


@pytest.mark.parametrize("button,save_as", [(QMessageBox.StandardButton.No, None),
                                            (QMessageBox.StandardButton.Yes, "")])
def test_no_or_a_cancelled_save_converts_and_opens_nothing(qtbot, window, zoo_pth, monkeypatch, button, save_as):
    src, _ = zoo_pth
    questions, saves = answer(monkeypatch, button, save_as)
    window.open_path(str(src))
    assert len(questions) == 1 and len(saves) == (button == QMessageBox.StandardButton.Yes)
    assert window.convert_offer.job is None and window.state.loaded is None and window.errors == []
    assert sorted(p.name for p in src.parent.iterdir()) == ["zoo.pth"]


def test_a_pickle_that_does_not_convert_is_one_error_and_the_open_model_stays(qtbot, window, tmp_path,
                                                                               tiny_model, monkeypatch):
    from tests.editor_helpers import open_and_wait

    ours = save_checkpoint(tmp_path / "ours.safetensors", tiny_model("vae"))
    open_and_wait(qtbot, window, ours)
    torch.save({"layer.weight": torch.ones(3, 3)}, tmp_path / "other.pt")
    answer(monkeypatch, QMessageBox.StandardButton.Yes, tmp_path / "other.safetensors")
    window.open_path(str(tmp_path / "other.pt"))
    qtbot.waitUntil(lambda: bool(window.errors), timeout=30_000)
    assert window.errors[0].startswith(f"{tmp_path / 'other.pt'}: a state dict of no layout that convert knows")
    assert window.state.loaded.path == ours and not (tmp_path / "other.safetensors").exists()


def test_a_latent_atlas_checkpoint_opens_without_a_question(qtbot, window, tmp_path, tiny_model, monkeypatch):
    from tests.editor_helpers import open_and_wait

    questions, _ = answer(monkeypatch, QMessageBox.StandardButton.No)
    ours = save_checkpoint(tmp_path / "ours.safetensors", tiny_model("vae"))
    assert open_and_wait(qtbot, window, ours).path == ours and questions == []


def test_a_converted_cvae_shows_its_condition_names(qtbot, window, tmp_path):
    from latent_atlas.editor.panels.condition_panel import ConditionPanel
    from latent_atlas.models.checkpoints.convert import convert_checkpoint
    from tests.editor_helpers import open_and_wait
    from tests.panel_helpers import tool
    from tests.test_convert_zoo import ZooConditionalVAE

    torch.manual_seed(0)
    net = trained_statistics(ZooConditionalVAE(3, 4, 3, [4, 8], img_size=8), 8, cond=4)
    torch.save(net.state_dict(), tmp_path / "cvae.pt")
    (tmp_path / "names.txt").write_text("Bald\nSmiling\nEyeglasses\nYoung\n")
    out = convert_checkpoint(tmp_path / "cvae.pt", None, tmp_path / "cvae.safetensors",
                             condition_names=tmp_path / "names.txt")
    open_and_wait(qtbot, window, out)
    panel = tool(window, ConditionPanel)
    window.tools.setCurrentWidget(panel)
    assert [c.text() for c in panel.checks] == ["Bald", "Smiling", "Eyeglasses", "Young"]   # attributes: boxes
