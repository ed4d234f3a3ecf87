"""Training faults in the editor: divergence, out of memory, a failed save, closing the window mid-run.
Each has a negative control showing the test would notice the fault."""
# ruff: noqa: F811  (the `window` fixture is imported from test_training_panel)
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch
from PySide6.QtCore import Qt

from latent_atlas.editor.core.training_setup import form_for
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.networks.vae import VAE
from tests.test_training_panel import RUN_TIMEOUT, run_to_end, training_panel, window  # noqa: F401 (a shared fixture)

ROOT = Path(__file__).resolve().parents[1]


def non_finite_files(folder: Path) -> list[str]:
    """Every .safetensors file under `folder` holding a NaN/Inf float tensor."""
    bad = []
    for path in folder.rglob("*.safetensors"):
        tensors = safetensors.torch.load_file(str(path))
        if any(t.is_floating_point() and not torch.isfinite(t).all() for t in tensors.values()):
            bad.append(path.name)
    return bad


def inject_nan_at(monkeypatch, step: int) -> None:
    original = VAE.train_step
    calls = {"n": 0}

    def train_step(self, x, c, optimizers):
        terms = original(self, x, c, optimizers)
        calls["n"] += 1
        if calls["n"] >= step:
            terms = {k: torch.full_like(v, math.nan) for k, v in terms.items()}
        return terms
    monkeypatch.setattr(VAE, "train_step", train_step)


def test_divergence_names_the_step_and_offers_the_last_good_checkpoint(qtbot, window, tmp_path, monkeypatch):
    panel = training_panel(window)
    out = tmp_path / "nan.safetensors"
    inject_nan_at(monkeypatch, step=12)          # epoch 1 ends at step 8 (256 images / 32) with a checkpoint
    outcome = run_to_end(qtbot, panel, form_for("digits", epochs=3, batch_size=32, limit=256, out=str(out),
                                                checkpoint_every=8))
    assert outcome == "diverged"
    assert "step 12" in window.errors[-1] and str(out) in window.errors[-1]
    assert non_finite_files(tmp_path) == []
    assert load_checkpoint(out).train_state["step"] == 8
    assert all(math.isfinite(v) for v in panel.buffer.series("recon")[1])
    assert panel.last_good_button.isVisibleTo(panel) and panel.start_button.isEnabled()
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60_000) as loaded:
        qtbot.mouseClick(panel.last_good_button, Qt.MouseButton.LeftButton)
    assert loaded.args[0].path.resolve() == out.resolve()


def test_negative_control_the_same_run_without_nan_finishes(qtbot, window, tmp_path):
    panel = training_panel(window)
    outcome = run_to_end(qtbot, panel, form_for("digits", epochs=3, batch_size=32, limit=256, checkpoint_every=8,
                                                out=str(tmp_path / "ok.safetensors")))
    assert outcome == "done" and window.errors == [] and not panel.last_good_button.isVisibleTo(panel)


def test_negative_control_the_finiteness_check_sees_a_nan_file(tmp_path):
    safetensors.torch.save_file({"w": torch.tensor([1.0, math.nan])}, str(tmp_path / "bad.safetensors"))
    assert non_finite_files(tmp_path) == ["bad.safetensors"]


def test_out_of_memory_shows_a_dialog_and_a_second_run_completes(qtbot, window, tmp_path, monkeypatch):
    panel = training_panel(window)

    def out_of_memory(self, x, c, optimizers):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
    monkeypatch.setattr(VAE, "train_step", out_of_memory)
    form = form_for("digits", epochs=1, batch_size=32, limit=128, out=str(tmp_path / "oom.safetensors"))
    assert run_to_end(qtbot, panel, form) == "failed"
    assert "out of memory" in window.errors[-1] and window.last_error_box.isVisible()
    assert panel.start_button.isEnabled() and not panel.running
    monkeypatch.undo()
    assert run_to_end(qtbot, panel) == "done" and len(window.errors) == 1
    assert load_checkpoint(tmp_path / "oom.safetensors").train_state["step"] == 4


def test_a_failed_save_shows_a_dialog(qtbot, window, tmp_path, monkeypatch):
    panel = training_panel(window)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("latent_atlas.models.training.trainer.save_checkpoint", disk_full)
    form = form_for("digits", epochs=1, batch_size=32, limit=128, out=str(tmp_path / "full.safetensors"))
    assert run_to_end(qtbot, panel, form) == "failed"
    assert "No space left on device" in window.errors[-1] and not panel.running


def test_closing_during_training_asks_and_cancel_keeps_training(qtbot, window, tmp_path):
    panel = training_panel(window)
    out = tmp_path / "close.safetensors"
    answers = []
    panel.confirm = lambda: answers.append("asked") or answers[-1] == "stop"
    panel.form.set_form(form_for("digits", epochs=1000, batch_size=16, out=str(out)))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(panel.buffer) >= 1, timeout=RUN_TIMEOUT)
    assert not window.close()                           # "Cancel": the window stays, training goes on
    assert answers == ["asked"] and window.isVisible() and panel.running
    step = panel.last_event.step
    qtbot.waitUntil(lambda: panel.last_event.step > step, timeout=RUN_TIMEOUT)
    panel.confirm = lambda: True                        # "Stop and save"
    assert window.close()
    assert not panel.running and panel.worker.outcome == "stopped"
    assert 0 < load_checkpoint(out).train_state["step"] < panel.info.total_steps


CLOSE_SCRIPT = '''\
import os
import sys

os.environ["QT_QPA_PLATFORM"] = "offscreen"
import torch  # noqa: E402

torch.set_num_threads(1)
from PySide6.QtCore import QTimer  # noqa: E402

from latent_atlas.editor.app import create_window  # noqa: E402
from latent_atlas.editor.core.training_setup import form_for  # noqa: E402
from latent_atlas.editor.training.training_panel import TrainingPanel  # noqa: E402

out, mode = sys.argv[1], sys.argv[2]
app, window = create_window(device="cpu")
panel = next(window.tools.widget(i) for i in range(window.tools.count())
             if isinstance(window.tools.widget(i), TrainingPanel))
panel.confirm = lambda: True                       # the user answers "Stop and save"
if mode == "unguarded":                            # negative control: nothing stops the thread on close
    window.close_guards.clear()
    app.aboutToQuit.disconnect(panel.shutdown)
window.show()
panel.form.set_form(form_for("digits", epochs=1000, batch_size=16, out=out))
closing = []


def on_events(events):
    if any(e.kind == "progress" for e in events) and not closing:
        closing.append(events[-1].step)
        QTimer.singleShot(0, window.close)


panel.start().progressed.connect(on_events)
code = app.exec()
print(f"exec returned {code}; outcome {panel.worker.outcome!r}", flush=True)
sys.exit(code)
'''


@pytest.mark.slow     # a real process per case, ~6 s each: .ci/run's -m slow runs it
@pytest.mark.parametrize("mode", ["guarded", "unguarded"])
def test_closing_the_window_mid_run_exits_cleanly_in_a_subprocess(tmp_path, mode):
    """The app starts offscreen, starts training, and closes the window at the first progress event,
    answering "Stop and save"."""
    out = tmp_path / "closed.safetensors"
    script = tmp_path / "close_during_training.py"
    script.write_text(CLOSE_SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(out), mode],
                            check=False, capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    if mode == "guarded":
        assert result.returncode == 0, result.stderr[-2000:]
        assert "QThread: Destroyed" not in result.stderr and "outcome 'stopped'" in result.stdout
        assert load_checkpoint(out).train_state["step"] > 0          # the final checkpoint was written
    else:   # negative control: without the close hook the thread is destroyed while running
        assert result.returncode != 0 and "QThread: Destroyed" in result.stderr
