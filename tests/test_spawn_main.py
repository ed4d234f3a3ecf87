"""A user's script that calls Latent Atlas at its top level, without `if __name__ == "__main__"`, runs once:
the t-SNE/UMAP worker process is spawned, and spawn re-runs the parent's main script in the child unless
its path is hidden (models/latent/cancellable_process.py). Negative control: without the hiding, twice."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import contextlib, os, sys
    import numpy as np
    import latent_atlas.models.latent.cancellable_process as cp
    if os.environ.get("NO_HIDE"):
        cp._main_module_hidden = contextlib.nullcontext
    from latent_atlas.models.latent.projection import make_projection
    with open(sys.argv[1], "a") as f:
        f.write("ran\\n")
    x = np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32)
    print(make_projection("tsne", in_subprocess=True).fit(x).embedding.shape)
""")


@pytest.mark.parametrize(("hide", "runs"), [(True, 1), (False, 2)])
def test_an_unguarded_user_script_runs_once(tmp_path, hide, runs):
    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT)
    marker = tmp_path / "marker.txt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not hide:
        env["NO_HIDE"] = "1"
    proc = subprocess.run([sys.executable, str(script), str(marker)], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)
    assert marker.read_text().count("ran") == runs, proc.stderr[-1500:]
    if hide:
        assert proc.returncode == 0 and "(120, 2)" in proc.stdout, proc.stderr[-1500:]
