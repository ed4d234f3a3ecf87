"""Run a slow, uninterruptible library call (sklearn's t-SNE, UMAP) in a spawned process so that
cancelling really stops it: the parent polls should_stop() and terminates the child.

The child stays alive between calls: what a call loads or compiles is paid once per session, not once per
call (UMAP's numba kernels take ~25 s to compile on 2 cores, a 10,000-point fit ~8 s). Cancelling, or a
child that dies, ends it; the next call starts a fresh one."""
from __future__ import annotations

import atexit
import multiprocessing as mp
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager


class ProcessCancelled(Exception):
    """should_stop() returned True; the child process was terminated."""


def _serve(conn) -> None:
    """The child: run each (fn, args) it is sent and send back ("ok", result) or ("error", message)."""
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):   # the parent is gone, or Ctrl+C in its terminal
            return
        if job is None:
            return
        fn, args, reports = job
        try:
            # a fn that reports progress gets a `progress` callable: each fraction goes to the parent at once
            kwargs = {"progress": lambda fraction: conn.send(("progress", float(fraction)))} if reports else {}
            reply = ("ok", fn(*args, **kwargs))
        except BaseException as e:   # report any failure to the parent rather than dying silently
            reply = ("error", f"{type(e).__name__}: {e}")
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


class WorkerProcess:
    """One spawned child that runs calls one at a time (callers from several threads queue on a lock)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc = None
        self._conn = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def run(self, fn: Callable, args: tuple, should_stop: Callable[[], bool], poll_s: float = 0.1,
            progress: Callable[[float], None] | None = None):
        """fn(*args) in the child; fn and args must be picklable (module-level function, arrays). With
        `progress`, fn is called with progress= too and what it reports reaches `progress` here.
        Raises ProcessCancelled when stopped, RuntimeError with the child's message when it fails."""
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._start()
            try:
                self._conn.send((fn, args, progress is not None))
                while True:
                    while not self._conn.poll(poll_s):
                        if should_stop():
                            self._stop()
                            raise ProcessCancelled()
                        if not self._proc.is_alive() and not self._conn.poll(0):
                            code = self._proc.exitcode
                            self._stop()
                            raise RuntimeError(f"the worker process died (exit code {code})")
                    status, value = self._conn.recv()
                    if status != "progress":
                        break
                    progress(value)
                    if should_stop():
                        self._stop()
                        raise ProcessCancelled()
            except (EOFError, OSError):              # the child closed its end: it died mid-call
                self._proc.join(5)
                code = self._proc.exitcode
                self._stop()
                raise RuntimeError(f"the worker process died (exit code {code})") from None
        if status != "ok":
            raise RuntimeError(value)
        return value

    def close(self, wait_s: float = 1.0) -> None:
        """End the child: politely between calls; during a call (another thread holds the lock past
        wait_s) it is terminated, and that call raises RuntimeError."""
        if not self._lock.acquire(timeout=wait_s):
            proc = self._proc
            if proc is not None and proc.is_alive():
                proc.terminate()
            return
        try:
            if self._proc is not None and self._proc.is_alive():
                try:
                    self._conn.send(None)
                    self._proc.join(2)
                except (OSError, ValueError):
                    pass
            self._stop()
        finally:
            self._lock.release()

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        # daemon: multiprocessing terminates it when the parent exits; a parent killed outright closes its
        # end of the pipe, and the child's recv() then ends it
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="latent-atlas-worker")
        with _main_module_hidden():
            self._proc.start()
        child.close()

    def _stop(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.terminate()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None


@contextmanager
def _main_module_hidden():
    """A spawned child re-runs the parent's __main__ script (as __mp_main__) unless it is guarded by
    `if __name__ == "__main__"`; a user's script that calls latent_atlas.view() at its top level would open
    a second editor in the child. The child needs nothing of __main__ (its target lives in this package), so
    the script's path and spec are hidden while the child is started."""
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    if main is not None:
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None             # multiprocessing reads main.__spec__.name
    try:
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)


_shared = WorkerProcess()
atexit.register(_shared.close)   # a polite end lets the child release what it made (terminating it can leak)


def run_cancellable(fn: Callable, args: tuple, should_stop: Callable[[], bool], poll_s: float = 0.1,
                    progress: Callable[[float], None] | None = None):
    """fn(*args) in the process-wide worker (see WorkerProcess.run)."""
    return _shared.run(fn, args, should_stop, poll_s, progress)


def shared_worker() -> WorkerProcess:
    return _shared
