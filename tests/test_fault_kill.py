"""SIGKILL while saving: the final name always holds a complete checkpoint of some version written.

A child process saves the same path in a loop, each version with weights filled with `version / 1000` and
`train_state["version"]`; the parent kills it with SIGKILL at random moments and restarts it. Children are
forked from a small server process that has imported torch once (and run no torch op, so forking is safe),
so 20 restarts cost milliseconds each, not an interpreter start each.
Negative control: a plain open(final, "wb") writer killed the same way leaves a file that does not load.
"""
from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import make_tiny_model

from latent_atlas.models.checkpoints import atomic_io
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint
from latent_atlas.models.errors import CheckpointError

KILLS = 20
NAME = "run.safetensors"


def big_enough_model():
    """About 150k weights (600 KB): a save takes long enough that kills land inside writes."""
    return make_tiny_model("vae", arch="mlp", image_shape=[1, 16, 16], latent_dim=2, hidden=256)


def set_version(model, version: int) -> None:
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.fill_(version / 1000)


def save_version(path: Path, model, version: int) -> None:
    set_version(model, version)
    save_checkpoint(path, model, train_state={"version": version})


def naive_writer(path: Path, model, version: int):
    """What the atomic save protects against: truncate the final name, then write it in chunks.
    The bytes are made once, so the loop spends its time writing, where a kill does harm."""
    scratch = path.with_name("scratch.bin")
    save_version(scratch, model, version)
    data = scratch.read_bytes()

    def write(path, _model, _version):
        with open(path, "wb") as f:
            for i in range(0, len(data), 16384):
                f.write(data[i:i + 16384])
                f.flush()
    return write


def saver_loop(folder: str, first_version: int, naive: bool) -> None:
    """Runs in the forked child until killed."""
    torch.set_num_threads(1)
    model = big_enough_model()
    save = naive_writer(Path(folder) / NAME, model, first_version) if naive else save_version
    os.write(1, b"ready\n")     # one write: the server writes to the same pipe
    version = first_version
    while True:
        save(Path(folder) / NAME, model, version)
        version += 1


SERVER = """
import os, sys
import test_fault_kill as t        # python -c runs in tests/: its folder is first on the path
print("up", flush=True)
for line in sys.stdin:
    cmd, *a = line.split()
    if cmd == "start":
        pid = os.fork()
        if pid == 0:
            try:
                t.saver_loop(a[0], int(a[1]), a[2] == "1")
            finally:
                os._exit(1)
        os.write(1, b"pid %d\\n" % pid)
    elif cmd == "reap":
        _, status = os.waitpid(int(a[0]), 0)
        os.write(1, b"signal %d\\n" % (os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1))
"""


@pytest.fixture(scope="module")
def forkserver():
    here = Path(__file__).resolve().parent
    server = subprocess.Popen([sys.executable, "-c", SERVER], text=True, cwd=here,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert server.stdout.readline().strip() == "up"
        yield server
    finally:
        server.stdin.close()
        server.wait(30)


def _ask(server, command: str, replies: int) -> dict:
    server.stdin.write(command + "\n")
    server.stdin.flush()
    lines = [server.stdout.readline().split() for _ in range(replies)]
    return {words[0]: words[1:] for words in lines if words}


def kill_while_saving(server, folder: Path, naive: bool, rng: random.Random) -> list:
    """Start, let it save for a random moment, SIGKILL; returns what the final name held after each kill."""
    outcomes = []
    for k in range(KILLS):
        reply = _ask(server, f"start {folder} {(k + 1) * 1000} {int(naive)}", 2)   # "pid N" and "ready"
        assert "ready" in reply, reply
        time.sleep(rng.uniform(0.0, 0.08))
        os.kill(int(reply["pid"][0]), signal.SIGKILL)
        assert _ask(server, f"reap {reply['pid'][0]}", 1) == {"signal": [str(int(signal.SIGKILL))]}
        try:
            ckpt = load_checkpoint(folder / NAME)
        except CheckpointError as e:
            outcomes.append(e)
            continue
        outcomes.append(ckpt)
    return outcomes


def complete_version(ckpt) -> int:
    """The version a loaded checkpoint says it is, after checking every weight agrees with it."""
    version = ckpt.train_state["version"]
    for key, t in ckpt.model.state_dict().items():
        if t.is_floating_point():
            assert torch.all(t == torch.tensor(version / 1000, dtype=t.dtype)), f"{key} is not version {version}"
    return version


def test_sigkill_during_atomic_saves_never_leaves_a_partial_file(tmp_path, forkserver):
    model = big_enough_model()
    save_version(tmp_path / NAME, model, 0)
    outcomes = kill_while_saving(forkserver, tmp_path, naive=False, rng=random.Random(1))

    versions = []
    for k, outcome in enumerate(outcomes):
        assert not isinstance(outcome, Exception), f"after kill {k + 1}: {outcome}"
        version = complete_version(outcome)
        assert version == 0 or version // 1000 <= k + 1      # written by this child or an earlier one
        versions.append(version)
    assert len(set(versions)) > 1, "the children never saved: the kills proved nothing"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != NAME]
    assert leftovers, "no kill landed inside a write: the test proved nothing"
    for name in leftovers:                                   # leftovers carry a temp name, never the final one
        assert name.startswith(f".{NAME}.") and name.endswith(".tmp")
    save_version(tmp_path / NAME, model, 99999)              # the next save works over the leftovers
    assert complete_version(load_checkpoint(tmp_path / NAME)) == 99999


def test_negative_control_a_naive_writer_killed_the_same_way_leaves_a_broken_file(tmp_path, forkserver):
    naive_writer(tmp_path / NAME, big_enough_model(), 0)(tmp_path / NAME, None, 0)
    outcomes = kill_while_saving(forkserver, tmp_path, naive=True, rng=random.Random(1))
    broken = [o for o in outcomes if isinstance(o, Exception)]
    assert broken, "no kill caught the naive writer mid-write: the kill test could not see the fault"
    assert all(NAME in str(e) for e in broken)


def _half_then(exc):
    """A write_bytes that writes half of the data, then fails with `exc`."""
    def write_bytes(self, data):
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        raise exc
    return write_bytes


@pytest.mark.parametrize("exc, raised", [
    (OSError(errno.ENOSPC, "No space left on device"), CheckpointError),
    (KeyboardInterrupt(), KeyboardInterrupt),
    (RuntimeError("bug in the writer"), RuntimeError),
], ids=["disk-full", "ctrl-c", "bug"])
def test_an_exception_halfway_through_writing_keeps_the_previous_file(tmp_path, monkeypatch, exc, raised):
    path = tmp_path / NAME
    model = big_enough_model()
    save_version(path, model, 7)
    before = path.read_bytes()
    monkeypatch.setattr(atomic_io.Path, "write_bytes", _half_then(exc))
    with pytest.raises(raised) as err:
        save_version(path, model, 8)
    monkeypatch.undo()
    if raised is CheckpointError:
        assert str(path) in str(err.value) and "No space left" in str(err.value)
    assert path.read_bytes() == before
    assert complete_version(load_checkpoint(path)) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]   # the half-written temp file is gone
