"""What the editor imports before its first image (issue 18: a cold first image within 1.5x a bare
`import torch`): the window, the tool panels and the model loader pull in neither scikit-learn (about a
second) nor scipy.signal / scipy.stats (1.5 s together); they are imported where they are used."""
from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("sklearn", "scipy.signal", "scipy.stats", "scipy.interpolate")

PROBE = """
import json, sys
import latent_atlas.editor.app, latent_atlas.editor.main_window
import latent_atlas.editor.panels.attribute_panel, latent_atlas.editor.panels.condition_panel
import latent_atlas.editor.panels.interpolation_panel, latent_atlas.editor.panels.samples_panel
import latent_atlas.editor.panels.traversal_panel, latent_atlas.editor.panels.density_label
import latent_atlas.editor.core.loaded_model, latent_atlas.editor.training.training_panel
print(json.dumps(sorted(sys.modules)))
"""


def test_start_up_modules_do_not_import_scikit_learn_or_scipy_signal():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    assert "torch" in modules and "latent_atlas.editor.core.loaded_model" in modules     # the probe ran
    heavy = sorted(m for m in modules if m.startswith(HEAVY))
    assert not heavy, f"imported at start-up: {heavy[:8]}"
