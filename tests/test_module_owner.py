"""The GUI thread never touches the open model's nn.Module (issue 15): it reads `loaded.info`, a frozen
description; every network call and every copy of the module is made on the decode worker.

The module is wrapped in a recorder that notes which thread reads each of its attributes, then the window
is used as a person would: open, click, every tab that decodes, a strip, SeFa, your own image. From the
moment the editor takes the model, every read is the decode worker's (the load job's came before)."""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

import numpy as np

from latent_atlas.editor.core import loaded_model
from latent_atlas.editor.panels.attribute_panel import AttributePanel
from latent_atlas.editor.panels.condition_panel import ConditionPanel
from latent_atlas.editor.panels.interpolation_panel import InterpolationPanel
from latent_atlas.editor.panels.samples_panel import SamplesPanel
from latent_atlas.editor.panels.traversal_panel import TraversalPanel
from latent_atlas.models.data import load_dataset
from tests.editor_helpers import open_and_wait
from tests.panel_helpers import tool
from tests.test_own_image import write_png


class _Recorder:
    """Forwards every attribute to the module and records (thread id, name) for each read."""

    def __init__(self, module):
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "reads", [])

    def __getattr__(self, name):
        self.reads.append((threading.get_ident(), name))
        return getattr(self._module, name)

    def __deepcopy__(self, memo):     # a private copy (inversion, SeFa, score) is the copier's own module
        self.reads.append((threading.get_ident(), "__deepcopy__"))
        return copy.deepcopy(self._module, memo)


@dataclass(frozen=True)
class _WhichThread:
    id: int = 0


def _record_modules(monkeypatch, window) -> list:
    """[(recorder, number of its reads when the editor took the model)], one per model opened."""
    handed: list = []
    real = loaded_model.load_checkpoint

    def load_recorded(*args, **kwargs):
        ckpt = real(*args, **kwargs)
        ckpt.model = _Recorder(ckpt.model)
        return ckpt

    monkeypatch.setattr(loaded_model, "load_checkpoint", load_recorded)
    window.controller.model_loaded.connect(lambda loaded: handed.append((loaded.model, len(loaded.model.reads))))
    return handed


def _worker_thread(qtbot, monkeypatch, decoder) -> int:
    monkeypatch.setitem(decoder._handlers, _WhichThread, lambda key, request: threading.get_ident())
    with qtbot.waitSignal(decoder.answered, check_params_cb=lambda key, *_: key == "which thread",
                          timeout=10_000) as got:
        decoder.submit("which thread", _WhichThread())
    return got.args[2]


def _on_tab(qtbot, window, cls, ready):
    panel = tool(window, cls)
    window.tools.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: ready(panel), timeout=10_000)
    return panel


def test_the_gui_thread_never_touches_the_module(qtbot, window, digits_vae_path, digits_cvae_path,
                                                 monkeypatch, tmp_path):
    handed = _record_modules(monkeypatch, window)
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    qtbot.waitUntil(lambda: window.density_label.density is not None, timeout=10_000)
    window.controller.click(*loaded.embedding[5])
    _on_tab(qtbot, window, SamplesPanel, lambda p: p.latents is not None)
    _on_tab(qtbot, window, TraversalPanel, lambda p: p.latents is not None)
    strip = _on_tab(qtbot, window, InterpolationPanel, lambda p: True)
    view = window.map.view
    view.drag_started.emit(*loaded.embedding[1])
    view.drag_finished.emit(*loaded.embedding[2])
    qtbot.waitUntil(lambda: strip.frames is not None and strip.off_data is not None, timeout=10_000)
    frame_size = strip.frames.shape[1]
    attributes = _on_tab(qtbot, window, AttributePanel, lambda p: True)
    attributes.add_candidate(attributes.candidates.itemText(0).split(" ")[0])
    section = attributes.directions
    section.method.setCurrentText("SeFa")
    section.find()
    qtbot.waitUntil(lambda: len(section.directions) > 0, timeout=10_000)
    window.own_image.open(str(write_png(tmp_path / "mine.png", load_dataset("digits").images[7][0])))
    qtbot.waitUntil(lambda: window.state.current.source == "image", timeout=10_000)
    cvae = open_and_wait(qtbot, window, digits_cvae_path)
    condition = _on_tab(qtbot, window, ConditionPanel, lambda p: True)
    condition.set_class(3)
    qtbot.waitUntil(lambda: window.state.condition is not None and window.state.condition[3] == 1, timeout=10_000)
    qtbot.wait(300)                    # the density label's settle timer and the last answers land

    worker = _worker_thread(qtbot, monkeypatch, window.controller.decoder)
    assert len(handed) == 2 and worker != threading.get_ident()
    for recorder, at_hand_off in handed:      # after the editor took it, only the decode worker reads it
        after = recorder.reads[at_hand_off:]
        assert {thread for thread, _ in after} == {worker}, [n for t, n in after if t != worker][:5]
    names = {name for _, name in handed[0][0].reads[handed[0][1]:]}
    assert {"decode", "encode", "elbo", "__deepcopy__"} <= names      # the recorder sees the worker's calls
    assert cvae.info.cond_dim == 10 and loaded.info.can_encode and loaded.info.latent_dim == frame_size
    _ = loaded.model.latent_dim                    # negative control: a read on the GUI thread is recorded
    assert handed[0][0].reads[-1] == (threading.get_ident(), "latent_dim")
    assert np.array_equal(window.state.condition, np.eye(10, dtype=np.float32)[3])
