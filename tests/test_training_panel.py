"""The Training panel driven as a user would: short real runs on the 8x8 digits, on the offscreen platform."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from latent_atlas.editor.core.training_setup import form_for
from latent_atlas.editor.training.training_panel import TrainingPanel
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from tests.editor_helpers import click_map, empty_spot, open_and_wait

RUN_TIMEOUT = 120_000


@pytest.fixture
def panel(qtbot):
    p = TrainingPanel()
    p.confirm = lambda: True          # qtbot closes widgets before fixtures end: never ask in a test
    p.errors = []
    p.error.connect(lambda title, msg: p.errors.append(msg))
    qtbot.addWidget(p)
    p.resize(900, 420)
    p.show()
    yield p
    p.shutdown()


@pytest.fixture
def window(window):
    """conftest's real window, with its training panel told never to ask (qtbot closes the window before
    fixtures end) and stopped at teardown."""
    training_panel(window).confirm = lambda: True
    yield window
    training_panel(window).shutdown()


def training_panel(window) -> TrainingPanel:
    return next(window.tools.widget(i) for i in range(window.tools.count())
                if isinstance(window.tools.widget(i), TrainingPanel))


def run_to_end(qtbot, panel, form=None) -> str:
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT) as blocker:
        if form is None:
            qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        else:
            panel.form.set_form(form)
            qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_short_run_plots_progresses_saves_and_opens_in_the_editor(qtbot, window, tmp_path):
    panel = training_panel(window)
    out = tmp_path / "digits.safetensors"
    assert not panel.open_button.isEnabled()
    # before any run the plot area says what will be there, not an empty box
    assert panel.plots.placeholder is not None and "Loss curves appear here" in panel.plots.placeholder.text
    assert panel.plots.placeholder.scene() is not None and "once a run starts" in panel.preview.caption.text()
    outcome = run_to_end(qtbot, panel, form_for("digits", epochs=2, batch_size=32, limit=512, out=str(out),
                                                 overwrite=True))
    assert outcome == "done" and window.errors == []
    assert not panel.form.form().overwrite          # no standing leave to replace the file this run wrote
    assert panel.plots.placeholder is None and set(panel.plots.plots) >= {"recon", "kl", "elbo"}
    assert panel.progress_bar.value() == 1000
    for term in ("recon", "kl", "beta_kl", "elbo"):
        assert panel.plots.point_count(term) >= 2
    assert panel.buffer.epochs.tolist() == [16, 32]            # two epochs of 512 / 32 steps, marked
    assert panel.preview.count >= 2 and panel.preview.image.dtype == np.uint8
    check_probe_map(panel, out, limit=512, seed=0)
    ckpt = load_checkpoint(out)
    assert ckpt.train_state["step"] == 32 and ckpt.dataset["family"] == "vae"
    assert panel.open_button.isEnabled()
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60_000) as loaded:
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert loaded.args[0].path.resolve() == out.resolve()


def check_probe_map(panel, out, limit, seed):
    """The probe map on screen is the saved model's encoding of the probe images (aligned PCA)."""
    from latent_atlas.editor.core.probe_map import align_to, pca_2d, probe_indices
    from latent_atlas.models.data import load_dataset

    assert panel.probe.isVisibleTo(panel) and panel.probe.points is not None
    shown = panel.probe.points
    data = load_dataset("digits", split="train", limit=limit, seed=seed)
    idx = probe_indices(len(data.images), seed=seed)
    assert shown.shape == (len(idx), 2) and np.isfinite(shown).all()
    model = load_checkpoint(out).model.eval()
    with torch.inference_mode():
        mu = model.encode(torch.from_numpy(data.images[idx]).float() / 255.0)[0].numpy()
    expected = align_to(pca_2d(mu), shown.astype(np.float64))
    assert np.abs(expected - shown).max() < 1e-3 * np.abs(shown).max()
    assert len(panel.probe.scatter.data) == len(idx)


def test_pause_stops_progress_and_resume_continues(qtbot, panel, tmp_path):
    panel.form.set_form(form_for("digits", epochs=200, batch_size=16, out=str(tmp_path / "p.safetensors")))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(panel.buffer) >= 2, timeout=RUN_TIMEOUT)
    last_seen = {"t": time.perf_counter()}
    panel.worker.progressed.connect(lambda e: last_seen.update(t=time.perf_counter()))
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.pause_button.text() == "Resume"
    # the step in flight may still report; then the trainer waits
    qtbot.waitUntil(lambda: time.perf_counter() - last_seen["t"] > 0.4, timeout=10_000)
    paused_step, paused_bar = panel.last_event.step, panel.progress_bar.value()
    with qtbot.assertNotEmitted(panel.worker.progressed, wait=800):
        pass
    assert panel.last_event.step == paused_step and panel.progress_bar.value() == paused_bar
    assert "Paused" in panel.stats.text()
    # neither the elapsed time nor the ETA counts while paused (issue 15, finding 15)
    shown_paused, elapsed_paused = panel.stats.text(), panel.last_event.elapsed_s
    qtbot.wait(1200)
    panel._redraw()
    assert panel.stats.text() == shown_paused
    assert "ETA paused" in shown_paused
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.last_event.step > paused_step, timeout=RUN_TIMEOUT)
    assert panel.last_event.elapsed_s - elapsed_paused < 1.0, "the pause is not counted as training time"
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT) as finished:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert finished.args[0] == "stopped"


def test_stop_mid_run_saves_a_checkpoint_that_resumes_with_its_curve(qtbot, panel, tmp_path):
    out = tmp_path / "s.safetensors"
    form = form_for("digits", epochs=3, batch_size=8, out=str(out), event_interval=0.02)
    panel.form.set_form(form)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT) as finished:
        qtbot.waitUntil(lambda: len(panel.buffer) >= 3, timeout=RUN_TIMEOUT)
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert finished.args[0] == "stopped"
    total = panel.info.total_steps
    saved = load_checkpoint(out).train_state["step"]
    assert 0 < saved < total and panel.last_event.step == saved
    first_x = panel.buffer.series("recon")[0][0]

    panel.ask_checkpoint = lambda parent: str(out)        # the "Resume from…" dialog picks the file
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT) as finished:
        qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert finished.args[0] == "done" and panel.info.start_step == saved
    x = panel.buffer.series("recon")[0]
    assert x[0] == first_x and x[-1] == total                # the old curve, then the new points after it
    assert np.all(np.diff(x) > 0) and np.any((x > saved) & (x < total))
    assert panel.plots.x_range_of_data("recon") == (first_x, total)
    assert load_checkpoint(out).train_state["step"] == total


def test_the_editor_stays_clickable_while_a_model_trains(qtbot, window, digits_vae_path, tmp_path):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    panel = training_panel(window)
    panel.form.set_form(form_for("digits", epochs=500, batch_size=16, out=str(tmp_path / "bg.safetensors")))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(panel.buffer) >= 2, timeout=RUN_TIMEOUT)
    before = window.decoded_view.image.copy()
    x, y = empty_spot(loaded, window)
    with qtbot.waitSignal(window.state.events.decoded, timeout=10_000):
        click_map(qtbot, window, x, y)
    assert window.state.current.source == "map"
    assert not np.array_equal(window.decoded_view.image, before)
    assert panel.running
    qtbot.waitUntil(lambda: panel.stats.text().startswith("Training"), timeout=5000)
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT):
        panel.stop()


def test_a_gan_run_shows_losses_and_no_probe_map(qtbot, panel, tmp_path):
    out = tmp_path / "gan.safetensors"
    outcome = run_to_end(qtbot, panel, form_for("digits", family="gan", epochs=1, batch_size=64, limit=256,
                                                out=str(out)))
    assert outcome == "done" and panel.errors == []
    for term in ("d_loss", "g_loss", "d_real", "d_fake", "jsd"):
        assert panel.plots.point_count(term) >= 1
    assert panel.preview.count >= 1 and not panel.probe.isVisibleTo(panel)    # a GAN has no encoder


def test_a_cvae_run_with_condition_consistency_plots_the_term(qtbot, panel, tmp_path):
    panel.form.set_form(form_for("digits", family="vae"))
    assert not panel.form.consistency.isEnabled()            # only a CVAE has a condition to read back
    out = tmp_path / "cvae.safetensors"
    form = form_for("digits", family="cvae", epochs=1, batch_size=64, limit=256, consistency=2.0, out=str(out))
    outcome = run_to_end(qtbot, panel, form)
    assert outcome == "done" and panel.errors == []
    assert panel.form.consistency.isEnabled() and panel.form.form().consistency == 2.0
    assert panel.plots.point_count("consistency") >= 1
    assert load_checkpoint(out).config.consistency == 2.0


def test_short_loss_plots_space_their_labels_so_they_never_overlap(qtbot):
    import math

    from latent_atlas.editor.training.loss_plots import CompactAxis, next_round_step

    assert [next_round_step(x) for x in (1, 2, 5, 0.05, 200)] == [2, 5, 10, 0.1, 500]
    axis = CompactAxis("left")
    for lo, hi, size in ((0, 600, 40), (-800, -300, 35), (1.5, 3.0, 30), (0, 15, 200)):
        major = axis.tickSpacing(lo, hi, size)[0][0]
        assert major * size / (hi - lo) >= CompactAxis.LABEL_PX, (lo, hi, size, major)
        assert round(major / 10 ** math.floor(math.log10(major)), 6) in (1, 2, 5)     # still 1, 2 or 5 x 10^k
    tall = axis.tickSpacing(0, 15, 400)[0][0]
    assert tall <= 5                                       # a tall plot keeps pyqtgraph's finer labels


def test_the_preview_and_probe_map_fit_the_tab_at_the_default_size(qtbot, window, tmp_path):
    """At 1280x800 the tab is ~530 px wide: the preview and the probe map side by side pushed the map behind a
    horizontal scroll bar (Xvfb walk, issue 15); they stack there and stand side by side where there is room."""
    panel = training_panel(window)
    window.resize(1280, 800)
    window.tools.setCurrentWidget(panel)
    out = tmp_path / "d.safetensors"
    assert run_to_end(qtbot, panel, form_for("digits", epochs=1, batch_size=32, limit=256, out=str(out))) == "done"
    qtbot.waitUntil(lambda: panel.probe.isVisible(), timeout=10_000)
    qtbot.wait(50)
    bar = panel._page.horizontalScrollBar()
    assert not bar.isVisible() or bar.maximum() == 0
    right_edge = panel.probe.mapTo(panel, panel.probe.rect().topRight()).x()
    assert right_edge <= panel.width()


def test_the_preview_and_probe_map_stand_side_by_side_where_there_is_room(qtbot, panel):
    panel.probe.show()                                             # as when a run sends its first map
    for width, side_by_side in ((1000, True), (520, False), (1000, True)):
        panel.resize(width, 560)
        qtbot.waitUntil(lambda w=width: panel.width() == w, timeout=5000)
        qtbot.wait(30)
        top = panel.probe.mapTo(panel, panel.probe.rect().topLeft())
        beside = top.y() == panel.preview.mapTo(panel, panel.preview.rect().topLeft()).y()
        assert beside == side_by_side, width
        assert top.x() + panel.probe.width() <= panel.width()
