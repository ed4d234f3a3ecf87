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


class _ThreadCountModel(torch.nn.Module):
    """Decodes to black and records the torch thread count of the thread that decodes."""
    device = torch.device("cpu")

    def __init__(self):
        super().__init__()
        self.seen: list[int] = []

    def decode(self, z, c=None):
        self.seen.append(torch.get_num_threads())
        return torch.zeros(len(z), 1, 2, 2)


def test_the_decode_worker_decodes_on_one_thread(qtbot, monkeypatch):
    from latent_atlas.editor.core.messages import DecodeRequest
    from latent_atlas.editor.workers.decode_worker import DecodeWorker

    monkeypatch.setattr(threads, "cores", lambda: 2)
    torch.set_num_threads(2)                      # what the GUI thread has
    worker = DecodeWorker()
    worker.start()
    model = _ThreadCountModel()
    try:
        worker.set_model(model)
        with qtbot.waitSignal(worker.answered, timeout=10_000):
            worker.submit("threads", DecodeRequest(torch.zeros(2)))
        assert model.seen == [1]
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
