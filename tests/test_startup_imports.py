"""What the editor imports before its first image (issue 18: a cold first image within 1.5x a bare
`import torch`): the window, the tool panels and the model loader pull in neither scikit-learn (about a
second) nor scipy.signal / scipy.stats (1.5 s together) nor scipy.spatial (0.6-0.8 s); they are imported where
they are used or on a thread once the first image is in."""
from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("sklearn", "scipy.signal", "scipy.stats", "scipy.interpolate", "scipy.spatial")

PROBE = """
import json, sys
import latent_atlas.editor.app, latent_atlas.editor.main_window
import latent_atlas.editor.panels.attribute_panel, latent_atlas.editor.panels.condition_panel
import latent_atlas.editor.panels.interpolation_panel, latent_atlas.editor.panels.samples_panel
import latent_atlas.editor.panels.traversal_panel, latent_atlas.editor.panels.density_label
import latent_atlas.editor.core.loaded_model, latent_atlas.editor.training.training_panel
app, window = latent_atlas.editor.app.create_window(complete=False)
latent_atlas.editor.app.finish_startup(window)       # the whole start-up but the model's own load job
print(json.dumps(sorted(sys.modules)))
window.controller.shutdown()
"""


def test_start_up_modules_do_not_import_scikit_learn_or_scipy_signal():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    assert "torch" in modules and "latent_atlas.editor.core.loaded_model" in modules     # the probe ran
    heavy = sorted(m for m in modules if m.startswith(HEAVY))
    assert not heavy, f"imported at start-up: {heavy[:8]}"


def test_the_later_modules_come_in_the_background_around_pysides_import_hook():
    """What the start-up leaves out (scikit-learn's neighbours, scipy.stats) is imported on a thread once a model
    is in (editor.app.import_later_modules), with the plain import, not on the decode worker through PySide6's
    hook: that held the first drag's strips for over 6 s."""
    probe = ("import builtins, sys, PySide6.QtWidgets\n"
             "import latent_atlas.editor.app as app\n"
             "hooked = builtins.__import__\n"
             "app.import_later_modules().join(120)\n"
             "print(all(m in sys.modules for m in app.LATER_IMPORTS), builtins.__import__ is hooked)\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]        # imported, and the hook put back after
