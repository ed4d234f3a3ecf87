"""Hostile files shared by the tests/test_hostile_*.py doors: FIFOs, devices, sparse giants, and a time
limit so that a loader that blocks on a FIFO fails the test instead of hanging the suite."""
from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

RICH_NAME = "<img src='/dev/zero'>"


@contextlib.contextmanager
def within(seconds: int):
    """Fails the test if the block runs longer than `seconds` (a read of a FIFO blocks forever)."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def sparse(folder: Path, name: str, size: int = 10 * 2**30) -> Path:
    """A file of `size` bytes that takes no disk (its bytes read as zeros)."""
    path = folder / name
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def devices() -> list[Path]:
    found = [Path(p) for p in ("/dev/zero", "/dev/urandom") if os.path.exists(p)]
    if not found:
        pytest.skip("no /dev/zero or /dev/urandom here")
    return found


def not_regular_files(tmp_path: Path, suffix: str) -> dict[str, Path]:
    """name -> path for each kind of file no loader may read: a FIFO, each device, a folder."""
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    return {"fifo": fifo(tmp_path, f"pipe{suffix}"), "folder": folder,
            **{p.name: p for p in devices()}}
