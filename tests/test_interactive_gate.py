"""Interactive decodes go first (issue 18): the decode worker marks a click's or a drag's decode
(models.threads.INTERACTIVE), and a training run in the editor calls give_way() before each step, which holds
while such work is active, for at most max_wait_s. Measured effect: bench/bench_drag.py --contended."""
from __future__ import annotations

import sys
import threading
import time

import pytest
import torch
from conftest import make_tiny_model

from latent_atlas.models.data import load_dataset
from latent_atlas.models.threads import InteractiveActivity
from latent_atlas.models.training.events import TrainConfig
from latent_atlas.models.training.trainer import Trainer


def test_active_only_within_the_linger_after_a_touch():
    gate = InteractiveActivity(linger_s=0.05, max_wait_s=1.0)
    assert not gate.active() and gate.give_way() < 0.01          # nothing interactive: no wait at all
    gate.touch()
    assert gate.active()
    held = gate.give_way()
    assert 0.03 <= held < 0.5 and not gate.active()              # waited out the linger, then went on


def test_give_way_never_holds_longer_than_its_limit_during_a_long_drag():
    gate = InteractiveActivity(linger_s=0.05, max_wait_s=0.1)
    stop = threading.Event()

    def drag():                                                  # a decode every 5 ms, as a drag sends them
        while not stop.is_set():
            gate.touch()
            time.sleep(0.005)
    t = threading.Thread(target=drag)
    t.start()
    try:
        time.sleep(0.01)
        held = gate.give_way()
    finally:
        stop.set()
        t.join()
    assert 0.09 <= held < 0.3


def test_the_trainer_gives_way_before_every_step():
    digits = torch.from_numpy(load_dataset("digits").images[:64])
    trainer = Trainer(make_tiny_model("vae"), digits, None, TrainConfig(epochs=2, batch_size=16, event_interval=0))
    calls = []
    trainer.give_way = lambda: calls.append(trainer.step) or 0.0
    for _ in trainer.run():
        pass
    assert calls == list(range(trainer.total_steps)) and trainer.total_steps == 8


def test_the_decode_worker_marks_decodes_as_interactive(qtbot):
    from latent_atlas.editor.core.messages import DecodeRequest
    from latent_atlas.editor.workers.decode_worker import DecodeWorker
    from latent_atlas.models import threads

    worker = DecodeWorker()
    worker.start()
    try:
        threads.INTERACTIVE._last = -1e9
        assert not threads.INTERACTIVE.active()
        model = make_tiny_model("vae").eval()
        worker.set_model(model)
        with qtbot.waitSignal(worker.answered, timeout=5000):
            worker.submit("current", DecodeRequest(torch.zeros(1, model.latent_dim), None, 1))
        assert threads.INTERACTIVE.active()
    finally:
        worker.stop()
        worker.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_a_batch_thread_lowers_its_own_priority_and_only_its_own():
    import os

    from latent_atlas.models.threads import BATCH_NICE, lower_this_threads_priority

    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def batch():
        seen["lowered"] = lower_this_threads_priority()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    t = threading.Thread(target=batch)
    t.start()
    t.join()
    assert seen["lowered"] and seen["nice"] == min(19, main + BATCH_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main     # the GUI thread keeps its own
