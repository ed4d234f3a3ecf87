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
