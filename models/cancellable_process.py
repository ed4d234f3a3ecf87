"""Run a slow, uninterruptible library call (sklearn's t-SNE, UMAP) in a spawned process so that
cancelling really stops it: the parent polls should_stop() and terminates the child."""
from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable


class ProcessCancelled(Exception):
    """should_stop() returned True; the child process was terminated."""


def _child(conn, fn, args) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as e:   # report any failure to the parent rather than dying silently
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def run_cancellable(fn: Callable, args: tuple, should_stop: Callable[[], bool], poll_s: float = 0.1):
    """fn(*args) in a spawned child; fn and args must be picklable (module-level function, arrays).
    Raises ProcessCancelled when stopped, RuntimeError with the child's message when it fails."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args), daemon=True)
    proc.start()
    child.close()
    try:
        while not parent.poll(poll_s):
            if should_stop():
                raise ProcessCancelled()
            if not proc.is_alive() and not parent.poll(0):
                raise RuntimeError(f"the worker process died (exit code {proc.exitcode})")
        status, value = parent.recv()
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(5)
        parent.close()
    if status != "ok":
        raise RuntimeError(value)
    return value
