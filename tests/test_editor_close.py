"""Closing the window while background work runs ends cleanly (in a subprocess, as a user would see it)."""
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from latent_atlas.editor.app import create_window
    app, window = create_window(device="cpu")
    window.show()
    def start():
        window.open_path(sys.argv[1])
        window.controller.model_loaded.connect(lambda _: (window.request_projection("tsne"),
                                                          QTimer.singleShot(50, window.close)))
    QTimer.singleShot(0, start)
    QTimer.singleShot(60_000, lambda: app.exit(3))
    window.destroyed.connect(app.quit)
    code = app.exec()
    print("exit", code, "jobs", len(window.controller._finished_jobs), "decoder",
          window.controller.decoder.isRunning())
    sys.exit(code)
""")


@pytest.mark.slow     # a real process or two, ~10 s: .ci/run's -m slow runs it
def test_close_during_projection_exits_zero_without_qthread_abort(digits_vae_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(digits_vae_path)], capture_output=True,
                            text=True, timeout=180)
    assert "QThread: Destroyed" not in result.stderr
    assert result.returncode == 0, result.stderr[-1500:]
    assert "decoder False" in result.stdout


def test_negative_control_killing_a_running_qthread_is_detected():
    code = ("import threading\nfrom PySide6.QtCore import QCoreApplication, QThread\n"
            "app = QCoreApplication([])\nclass T(QThread):\n    def run(self):\n"
            "        threading.Event().wait(5)\nt = T()\nt.start()\ndel t\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "QThread: Destroyed" in result.stderr and result.returncode != 0
