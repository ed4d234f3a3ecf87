"""Interactive decodes and batch work run on separate torch thread counts (issue 18): the decode worker's
thread uses models.threads.interactive_threads() (1), batch threads use the rest."""
from __future__ import annotations

import torch

from latent_atlas.models import threads


def test_the_rule(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 8)
    monkeypatch.delenv("LATENT_ATLAS_INTERACTIVE_THREADS", raising=False)
    assert (threads.interactive_threads(), threads.batch_threads()) == (1, 7)
    monkeypatch.setenv("LATENT_ATLAS_INTERACTIVE_THREADS", "3")
    assert (threads.interactive_threads(), threads.batch_threads()) == (3, 5)
    monkeypatch.setattr(threads, "cores", lambda: 1)
    monkeypatch.setenv("LATENT_ATLAS_INTERACTIVE_THREADS", "x")
    assert (threads.interactive_threads(), threads.batch_threads()) == (1, 1)


def test_the_decode_worker_decodes_on_one_thread(qtbot, monkeypatch):
    from latent_atlas.editor.workers.decode_worker import DecodeWorker, ModelTask

    monkeypatch.setattr(threads, "cores", lambda: 2)
    torch.set_num_threads(2)                      # what the GUI thread has
    worker = DecodeWorker()
    worker.start()
    try:
        worker.set_model(torch.nn.Linear(2, 2))
        with qtbot.waitSignal(worker.task_done, timeout=10_000) as got:
            worker.submit(ModelTask(1, "threads", lambda model: torch.get_num_threads()))
        assert got.args[2] == 1
    finally:
        worker.stop()
        worker.wait()
        torch.set_num_threads(1)


def test_the_density_estimate_gives_way_to_a_waiting_click(digits_vae_path):
    """density_of stops between chunks when an interactive decode waits, and is complete otherwise."""
    import numpy as np

    from latent_atlas.editor.core.density import CHUNK, IW_SAMPLES, density_of
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

    model = load_checkpoint(digits_vae_path).model.eval()
    z = np.zeros(model.latent_dim, np.float32)
    asked = []

    def waiting():
        asked.append(1)
        return len(asked) > 2                    # a click arrives during the third chunk's check

    assert density_of(model, z, should_stop=waiting) is None and len(asked) == 3
    full = density_of(model, z, should_stop=lambda: False)
    assert full.kind == "vae" and full.k == IW_SAMPLES and IW_SAMPLES > 2 * CHUNK
    assert density_of(model, z).elbo == full.elbo                      # chunked, still deterministic
