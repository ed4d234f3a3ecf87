"""Start-up failures end cleanly (issue 13): no display gives one line and exit 1 instead of Qt's xcb dump
and an abort; every early exit stops the worker threads first; a reader that leaves early (`| head -1`)
is not an error; the benchmarks' and the package's --help work."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from latent_atlas.editor.app import check_display
from latent_atlas.editor.core.bundled import default_model
from latent_atlas.models.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
NO_DISPLAY = "no display: set DISPLAY or use QT_QPA_PLATFORM=offscreen for --screenshot"


def bare_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


@pytest.mark.parametrize(("environ", "platform", "fails"), [
    ({}, "linux", True), ({"DISPLAY": ":0"}, "linux", False), ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False), ({}, "freebsd14", True), ({}, "darwin", False),
    ({}, "win32", False)])
def test_check_display(environ, platform, fails):
    if fails:
        with pytest.raises(ConfigError, match="^no display: set DISPLAY or use QT_QPA_PLATFORM=offscreen"):
            check_display(environ, platform)
    else:
        check_display(environ, platform)


def test_no_display_is_one_line_and_exit_1_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "latent_atlas", "--screenshot", "x.png"], capture_output=True,
                          text=True, timeout=120, env=bare_env(), cwd=ROOT)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [f"latent-atlas: error: {NO_DISPLAY}"]


def test_an_early_exit_after_the_window_stops_its_threads_first(tmp_path):
    """--device cuda on a machine without one fails after the window and its decode thread exist."""
    if default_model() is None:
        pytest.skip("needs the bundled default model")
    proc = subprocess.run([sys.executable, "-m", "latent_atlas", "--device", "cuda", "--screenshot",
                           str(tmp_path / "x.png")], capture_output=True, text=True, timeout=180,
                          env=bare_env(QT_QPA_PLATFORM="offscreen"), cwd=tmp_path)
    if proc.returncode == 0:
        pytest.skip("this machine has CUDA")
    assert proc.returncode == 1, proc.stderr
    assert "QThread" not in proc.stderr and "Traceback" not in proc.stderr
    ours = [line for line in proc.stderr.splitlines() if "propagateSizeHints" not in line]   # offscreen Qt's
    assert len(ours) == 1 and ours[0].startswith("latent-atlas: error: device 'cuda'"), proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_screenshot_without_any_model_exits_before_the_window(monkeypatch, capsys, tmp_path):
    import latent_atlas.editor.core.bundled as bundled
    from latent_atlas.main import main

    monkeypatch.setattr(bundled, "default_model", lambda: None)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main(["--screenshot", str(tmp_path / "x.png")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "latent-atlas: error: --screenshot needs a model: none bundled and no --open FILE"]


def test_a_reader_that_leaves_early_is_not_an_error():
    """`latent-atlas info F | head -1`: the reader closes the pipe before a word is written."""
    if default_model() is None:
        pytest.skip("needs the bundled default model")
    proc = subprocess.Popen([sys.executable, "-m", "latent_atlas", "info", str(default_model().path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=bare_env(), cwd=ROOT)
    proc.stdout.close()                                  # every write of the child now breaks the pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


def test_the_reader_leaving_in_process_returns_0(monkeypatch, capsys):
    """The handler itself: stdout raising BrokenPipeError on write."""
    if default_model() is None:
        pytest.skip("needs the bundled default model")
    from latent_atlas.main import main

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["info", str(default_model().path)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("module", ["bench", "latent_atlas"])
def test_help_prints_usage_and_exits_0(module):
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:")
