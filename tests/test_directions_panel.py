"""The Attributes tab's "Find directions" section, "keep these attributes" and "Score", in the real window:
a found direction becomes an ordinary vector, conditional edits leave the kept vectors' directions alone and
show the cosine they removed, a score on the bundled Fashion-MNIST VAE matches a direct computation, and
SeFa and Score are off, with the reason, where the model cannot have them."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from torch import nn

from latent_atlas.editor.core import find_directions as fd
from latent_atlas.editor.core import vector_score as vs
from latent_atlas.editor.panels.attribute_panel import AttributePanel
from latent_atlas.editor.python_api import prepare
from latent_atlas.models.bundled_files import resource_path
from tests.editor_helpers import open_and_wait
from tests.panel_helpers import open_on_tab, tool


@pytest.fixture
def opened(qtbot, window, digits_vae_path):
    return open_on_tab(qtbot, window, digits_vae_path, AttributePanel)


def test_a_found_classifier_normal_becomes_an_ordinary_vector(qtbot, opened, tmp_path):
    window, panel, loaded = opened
    section = panel.directions
    assert not section.body.isVisibleTo(panel)                  # folded until asked for
    section.toggle.click()
    assert section.body.isVisibleTo(panel)
    section.method.setCurrentText("Classifier normal")
    section.label.setCurrentIndex(3)
    with qtbot.waitSignal(section.found, timeout=30_000) as found:
        section.find_button.click()
    (d,) = found.args[0]
    assert d.method == "classifier" and 0.7 < d.score <= 1.0
    assert "held-out accuracy" in section.results.item(0).text()
    section.name.setText("three")
    section.add_button.click()
    edit = window.state.edits[-1]
    mask = loaded.labels == 3
    expected = fd.find(loaded, "Classifier normal", 3)[0].vector
    scale = float((loaded.latents[mask].mean(0) - loaded.latents[~mask].mean(0)) @ expected)
    np.testing.assert_allclose(edit.vector, expected * scale, rtol=1e-5)
    assert edit.name == "three" and "three" in panel.rows and panel.selected == "three"
    assert panel.cosines.isVisibleTo(panel)
    panel.rows["three"].spin.setValue(1.0)                        # the slider drives the edit like any vector
    assert window.state.edits[-1].weight == 1.0
    assert panel.save_vectors(str(tmp_path / "v.json"))
    panel.remove_vector("three")
    assert panel.load_vectors(str(tmp_path / "v.json")) == ["three"]
    np.testing.assert_allclose(window.state.edits[-1].vector, expected * scale, rtol=1e-5)


def test_only_the_newest_find_is_shown(qtbot, opened):
    _, panel, _ = opened
    section = panel.directions
    section.method.setCurrentText("PCA of prior latents")
    section.find()
    section.method.setCurrentText("Mean difference")
    section.label.setCurrentIndex(0)
    with qtbot.waitSignal(section.found, timeout=30_000) as found:
        section.find()
    assert [d.method for d in found.args[0]] == ["mean"]
    qtbot.wait(300)                                               # the PCA job has ended too by now
    assert section.results.count() == 1 and section.directions[0].method == "mean"


def test_keeping_attributes_projects_them_out_and_shows_the_cosine_removed(opened):
    window, panel, _ = opened
    a, b, c = panel.add_candidate("3"), panel.add_candidate("5"), panel.add_candidate("8")
    edits = {e.name: e.vector.copy() for e in window.state.edits}
    panel.select_vector(a)
    box = panel.picked_box
    assert box.isVisibleTo(panel) and [box.keep_list.item(i).text() for i in range(2)] == [b, c]
    box.set_checked({b})
    box.keep_button.click()
    new = window.state.edits[0].vector
    cos_before = abs(edits[a] @ edits[b]) / (np.linalg.norm(edits[a]) * np.linalg.norm(edits[b]))
    assert cos_before > 0.05                                      # there was something to remove
    assert abs(new @ edits[b]) / (np.linalg.norm(new) * np.linalg.norm(edits[b])) < 1e-5
    assert box.keep_label.text() == f"{a}: removed cos {cos_before:.2f} with {b}"
    assert not np.allclose(new @ edits[c], 0, atol=1e-3)           # an unchecked vector is not kept
    box.set_checked({b, c})                                       # two kept: orthogonal to both
    box.keep_button.click()
    new = window.state.edits[0].vector
    assert max(abs(new @ edits[b]), abs(new @ edits[c])) < 1e-4 * np.linalg.norm(new) * 10
    assert "removed cos" in box.keep_label.text() and f"with {b}" in box.keep_label.text()


def test_a_score_on_the_bundled_fashion_vae_matches_a_direct_one(qtbot, window):
    window.controller.map_limit = 400                            # a small Fashion-MNIST subset: fast
    loaded = open_and_wait(qtbot, window, resource_path("models", "fashion_vae.safetensors"))
    panel = tool(window, AttributePanel)
    window.tools.setCurrentWidget(panel)
    name = panel.add_candidate("Trouser")
    box = panel.picked_box
    assert box.score_button.isEnabled() and box.target.currentText() == "Trouser"
    box.walked = 40
    with qtbot.waitSignal(box.scored, timeout=60_000) as got:
        box.score_button.click()
    shown = got.args[0]
    vector = next(e.vector for e in window.state.edits if e.name == name)    # after the shipped vectors
    direct = vs.score_vector(loaded, name, vector, "Trouser", walked=40)
    assert shown.score == direct.score and shown.step == direct.step
    assert shown.score.n == 40 and shown.score.hit_rate > shown.score.hit_rate_before + 0.3
    text = box.score_label.text()
    assert f"hit rate {direct.score.hit_rate:.0%}" in text and "others changed" in text and "off data" in text


class ConvStartGenerator(nn.Module):
    """A decoder that reshapes z to a 2x2 image and starts with a convolution: no linear first layer."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.ConvTranspose2d(1, 8, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, 2, 1),
                                 nn.Sigmoid())
        self.latent_dim = 4

    def decode(self, z):
        return self.net(z.view(-1, 1, 2, 2))                       # (B, 1, 8, 8)


def test_sefa_and_score_are_off_with_their_reasons_for_a_module_without_them(qtbot, window, digits_vae_path):
    torch.manual_seed(0)
    model, data, origin = prepare(ConvStartGenerator().eval(), kind="gan")
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60_000):
        window.controller.open_module(model, data, origin)
    panel = tool(window, AttributePanel)
    section = panel.directions
    sefa = fd.METHODS.index("SeFa")
    assert not section.method.model().item(sefa).isEnabled()
    assert "linear map of z" in section.sefa_reason and section.note.text().startswith("SeFa is off")
    assert not panel.picked_box.score_button.isEnabledTo(panel.picked_box)
    assert "no labels" in panel.picked_box.score_button.toolTip()
    open_and_wait(qtbot, window, digits_vae_path)                # control: our VAE starts with a Linear of z
    assert section.method.model().item(sefa).isEnabled() and section.sefa_reason == ""
    assert panel.picked_box.score_button.isEnabledTo(panel.picked_box)


def test_a_switch_leaves_nothing_of_the_directions_found_on_the_model_before(qtbot, opened, digits_cvae_path):
    """Xvfb walk: after PC1 was found on the Fashion VAE, the CVAE, the GAN and the VAE again all showed
    "PC1" in the name box over an empty list."""
    window, panel, _ = opened
    section = panel.directions
    section.method.setCurrentText("PCA of data latents")
    with qtbot.waitSignal(section.found, timeout=30_000):
        section.find_button.click()
    assert section.name.text() == "PC1" and section.results.count() > 0
    open_and_wait(qtbot, window, digits_cvae_path)
    assert (section.name.text(), section.results.count(), section.note.text()) == ("", 0, "")
    assert not section.add_button.isEnabled()


def test_a_gan_offers_no_pca_of_data_latents(qtbot, window, digits_gan_path, digits_vae_path):
    """A GAN's map holds prior samples: "PCA of data latents" would be PCA of the prior again (Xvfb walk)."""
    window, panel, _ = open_on_tab(qtbot, window, digits_vae_path, AttributePanel)
    section = panel.directions
    data = fd.METHODS.index("PCA of data latents")
    section.method.setCurrentIndex(data)
    open_and_wait(qtbot, window, digits_gan_path)
    assert not section.method.model().item(data).isEnabled()
    assert section.method.currentText() == "PCA of prior latents"
    assert "prior samples" in section.method.itemData(data, Qt.ItemDataRole.ToolTipRole)
    open_and_wait(qtbot, window, digits_vae_path)                # control: a VAE encodes its data
    assert section.method.model().item(data).isEnabled()
