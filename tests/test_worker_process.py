"""The process that runs t-SNE and UMAP for the editor: kept between calls (so UMAP's compilation is paid
once), ended for real by a cancel, and replaced after a cancel or a crash."""
import os
import threading
import time

import pytest

from latent_atlas.models.latent.cancellable_process import ProcessCancelled, WorkerProcess


def _pid() -> int:
    return os.getpid()


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _fail(message: str):
    raise ValueError(message)


def _die(code: int):
    os._exit(code)


def _never() -> bool:
    return False


@pytest.fixture
def worker():
    w = WorkerProcess()
    yield w
    w.close()


def test_calls_run_in_one_child_that_stays_alive(worker):
    first = worker.run(_pid, (), _never)
    assert first != os.getpid() and worker.pid == first
    assert worker.run(_pid, (), _never) == first


def test_cancel_terminates_the_child_and_the_next_call_gets_a_fresh_one(worker):
    first = worker.run(_pid, (), _never)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    t0 = time.perf_counter()
    with pytest.raises(ProcessCancelled):
        worker.run(_sleep, (60,), stop.is_set)
    assert time.perf_counter() - t0 < 10 and worker.pid is None
    assert worker.run(_pid, (), _never) not in (first, None)


def test_an_error_in_the_call_is_reported_and_the_child_kept(worker):
    first = worker.run(_pid, (), _never)
    with pytest.raises(RuntimeError, match="ValueError: bad input"):
        worker.run(_fail, ("bad input",), _never)
    assert worker.run(_pid, (), _never) == first


def test_a_child_that_dies_is_reported_and_replaced(worker):
    first = worker.run(_pid, (), _never)
    with pytest.raises(RuntimeError, match="exit code 3"):
        worker.run(_die, (3,), _never)
    assert worker.run(_pid, (), _never) not in (first, None)


def test_callers_on_two_threads_take_turns(worker):
    results = []
    threads = [threading.Thread(target=lambda: results.append(worker.run(_sleep, (0.2,), _never)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [0.2, 0.2]


def test_close_ends_the_child(worker):
    worker.run(_pid, (), _never)
    proc = worker._proc
    worker.close()
    assert worker.pid is None and not proc.is_alive() and proc.exitcode == 0


def test_close_during_a_call_ends_the_child_and_the_call_fails(worker):
    errors = []

    def call():
        try:
            worker.run(_sleep, (60,), _never)
        except RuntimeError as e:
            errors.append(str(e))

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.5)
    worker.close(wait_s=0.2)
    caller.join(20)
    assert not caller.is_alive() and errors and "died" in errors[0]
