"""torchrun training: two CPU processes (gloo) end with identical weights and write exactly one checkpoint;
without the gradient averaging they would not (negative control). Plus the sharding and the env parsing."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.errors import ConfigError
from latent_atlas.models.training import distributed as ddp

pytestmark = pytest.mark.slow      # torchrun: two processes per run, ~40 s; run by .ci/run with -m slow
ROOT = Path(__file__).resolve().parents[1]
# A launcher for the negative control: main.py with the gradient averaging switched off, nothing else changed.
NO_AVERAGING = """import sys
from latent_atlas.models.training import distributed
distributed.install_gradient_averaging = lambda optimizers, world_size: []
from latent_atlas.main import main
sys.exit(main(sys.argv[1:]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(script: Path, folder: Path, family: str, epochs: int = 1, extra=()) -> subprocess.Popen:
    folder.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", ddp.TEST_HASH_DIR_VAR: str(folder)}
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
           str(script), "train", "--model", family, "--dataset", "digits", "--epochs", str(epochs),
           "--out", str(folder / "model.safetensors"), "--quiet", "--device", "cpu", *map(str, extra)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """2-process runs side by side (each is mostly start-up): VAE, GAN, VAE without averaging, VAE for two
    epochs; then the one-epoch VAE resumed to two epochs."""
    tmp = tmp_path_factory.mktemp("ddp")
    unsynced = tmp / "no_averaging.py"
    unsynced.write_text(NO_AVERAGING)
    procs = {"vae": launch(ROOT / "main.py", tmp / "vae", "vae"),
             "gan": launch(ROOT / "main.py", tmp / "gan", "gan", epochs=2),
             "unsynced": launch(unsynced, tmp / "unsynced", "vae"),
             "vae_2_epochs": launch(ROOT / "main.py", tmp / "vae_2_epochs", "vae", epochs=2)}
    results = {}

    def finish(name):
        proc = procs[name]
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results[name] = (proc.returncode, out, err, tmp / name)

    finish("vae")                               # its checkpoint is where the resumed run starts
    procs["resumed"] = launch(ROOT / "main.py", tmp / "resumed", "vae", epochs=2,
                              extra=["--resume", tmp / "vae" / "model.safetensors"])
    for name in procs:
        if name not in results:
            finish(name)
    return results


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text().strip() for p in sorted(folder.glob("rank*.sha256"))}


@pytest.mark.parametrize("family, steps", [("vae", 6), ("gan", 12)])
def test_two_processes_end_with_identical_weights_and_one_checkpoint(runs, family, steps):
    code, out, err, folder = runs[family]
    assert code == 0, err
    assert "Traceback" not in err
    assert out.count(f"training {family}") == 1 and "2 processes (gloo)" in out      # rank 0 alone prints
    assert out.count("saved ") == 1
    found = hashes(folder)
    assert set(found) == {"rank0.sha256", "rank1.sha256"}
    assert found["rank0.sha256"] == found["rank1.sha256"]
    files = sorted(p.name for p in folder.glob("*safetensors*"))            # no temp files, no per-rank copies
    assert files == ["model.safetensors"]           # 6 steps an epoch: one checkpoint, at the end (no .prev)
    ckpt = load_checkpoint(folder / "model.safetensors", with_optimizers=True)
    assert ddp.state_hash(ckpt.model) == found["rank0.sha256"]                # the file holds what they hold
    # each rank took half of every epoch: 719 images per rank, 6 steps of 128 (one process would take 12)
    assert ckpt.train_state["step"] == steps and ckpt.train_state["world_size"] == 2
    assert ckpt.kind == family and ckpt.history["step"][-1] == steps


def test_a_resumed_two_process_run_ends_exactly_where_an_unbroken_one_does(runs):
    for name in ("vae_2_epochs", "resumed"):
        code, _, err, _ = runs[name]
        assert code == 0, err
    straight, resumed = hashes(runs["vae_2_epochs"][3]), hashes(runs["resumed"][3])
    assert straight["rank0.sha256"] == straight["rank1.sha256"]
    assert resumed == straight            # both ranks went on with their own noise where they stopped
    ckpt = load_checkpoint(runs["vae"][3] / "model.safetensors", with_optimizers=True)
    assert len(ckpt.rng_state["ranks"]) == 2 and not torch.equal(*ckpt.rng_state["ranks"])


def test_control_without_gradient_averaging_the_ranks_drift_apart(runs):
    code, _, err, folder = runs["unsynced"]
    assert code == 0, err
    found = hashes(folder)
    assert len(found) == 2 and found["rank0.sha256"] != found["rank1.sha256"]


@pytest.mark.parametrize("n, world", [(1438, 2), (10, 3), (7, 7), (5, 8), (9, 1)])
def test_shards_are_disjoint_equal_and_cover_the_epoch(n, world):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    shards = [ddp.shard(order, r, world) for r in range(world)]
    size = -(-n // world)
    assert all(len(s) == size for s in shards)                         # every rank runs the same steps
    together = torch.cat(shards)
    assert set(together.tolist()) == set(range(n))                     # nothing left out
    assert len(together) - len(set(together.tolist())) == size * world - n   # only the wrap-around repeats
    if world == 1:
        assert torch.equal(shards[0], order)                           # one process: the plain order


def test_torchrun_environment_is_read_and_checked():
    assert ddp.torchrun_ranks({}) is None
    assert ddp.torchrun_ranks({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}) == (3, 8, 1)
    for env in ({"RANK": "x", "WORLD_SIZE": "2"}, {"RANK": "2", "WORLD_SIZE": "2"},
                {"RANK": "0", "WORLD_SIZE": "0"}, {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "-1"}):
        with pytest.raises(ConfigError, match="RANK"):
            ddp.torchrun_ranks(env)


def test_a_plain_run_does_not_start_a_process_group(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert ddp.init_distributed("cpu") is None
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert ddp.init_distributed("cpu") is None                        # torchrun with one process: plain run
    assert not torch.distributed.is_initialized()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_torchrun_asked_for_gpus_on_a_machine_without_one_refuses_before_joining(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(ConfigError, match="cuda' is not available"):
        ddp.init_distributed("cuda")
    with pytest.raises(ConfigError, match="cuda:LOCAL_RANK"):
        ddp.init_distributed("cuda:1")            # each process picks its own GPU under torchrun
    assert not torch.distributed.is_initialized()
