"""How many torch threads each kind of work gets (issue 18; measured by `python -m bench.bench_threads`).

Interactive work (one image, a strip, a small grid: what a click or a drag waits for) runs on ONE thread:
a one-image decode spread over every core waits for the slowest of them, and on a machine that is doing
anything else (training in the Training tab, another program) that wait is long. Measured on 2 cores while a
training thread ran in the same process: p95 20.6 ms on one thread against 108.9 ms on two (28x28 VAE), and
13.0 against 344.0 ms (64x64 RGB z128 zoo VAE). Batch work (training, encoding a data set) gets the other
cores. Each worker sets its own count when it starts: under OpenMP (the CPU build's backend) a thread keeps the
count it set for its own parallel regions; MKL's count is process-wide (the last thread to set it wins), so
on a many-core machine a decode can briefly narrow a training step's matrix products. On 2 cores both counts
are 1. LATENT_ATLAS_INTERACTIVE_THREADS overrides the interactive count.
"""
from __future__ import annotations

import os
import time


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def interactive_threads() -> int:
    value = os.environ.get("LATENT_ATLAS_INTERACTIVE_THREADS", "")
    return max(1, int(value)) if value.isdigit() else 1


def batch_threads() -> int:
    """Every core the interactive thread does not need, at least one."""
    return max(1, cores() - interactive_threads())


def use_interactive_threads() -> None:
    """Call on the thread that decodes for the GUI (it applies to that thread only)."""
    import torch

    torch.set_num_threads(interactive_threads())


def use_batch_threads() -> None:
    import torch

    torch.set_num_threads(batch_threads())


class InteractiveActivity:
    """Whether the person at the screen is waiting on the network: a click's decode or a drag's strip was
    asked for or answered within the last `linger_s`. Batch work in the same process (the Training tab's
    steps) calls give_way() between steps and holds back while it is so, because on a machine with few cores a
    training step and a decode share them: measured by `python -m bench.bench_drag --contended` (drag strips/s
    while training, against quiet). A drag's requests come every few milliseconds, so the linger covers the
    gaps between them; a single click holds training back for about the linger. Thread-safe."""

    def __init__(self, linger_s: float = 0.06, max_wait_s: float = 0.25):
        self.linger_s, self.max_wait_s = linger_s, max_wait_s
        self._last = -1e9                 # time.monotonic() of the last interactive request or answer

    def touch(self) -> None:
        self._last = time.monotonic()     # one float store: atomic under the GIL, no lock needed

    def active(self) -> bool:
        return time.monotonic() - self._last < self.linger_s

    def give_way(self) -> float:
        """Sleep while interactive work is active, at most max_wait_s (training never stops for long);
        returns the seconds held."""
        t0 = time.monotonic()
        while self.active() and time.monotonic() - t0 < self.max_wait_s:
            time.sleep(0.004)
        return time.monotonic() - t0


INTERACTIVE = InteractiveActivity()      # the process's one: the decode worker touches it, training reads it


BATCH_NICE = 10        # how much lower than the GUI's the priority of a batch thread is (Linux nice steps)


def lower_this_threads_priority(steps: int = BATCH_NICE) -> bool:
    """Batch work yields the CPU to interactive work: on Linux each thread has its own nice value, so the
    thread that trains (or encodes a data set) asks the kernel to run the GUI and decode threads first when
    they compete for a core (no privilege needed to lower one's own priority). Threads it starts afterwards
    (torch's pool) inherit it. Elsewhere a no-op: macOS and Windows set priorities per process. Returns
    whether it was lowered."""
    import sys
    import threading

    if not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
        return True
    except (AttributeError, OSError):
        return False
