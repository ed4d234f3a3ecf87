"""A full disk and a read-only folder: a typed error naming the file, nothing half-written, the old file intact,
and nothing ever reported as saved.

The full disk is a 256 KiB tmpfs (root only; skipped with the reason otherwise). The read-only folder is a
chmod 555 folder when not root (root ignores modes), else a tmpfs remounted read-only.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_model

from latent_atlas.editor.core.export import ExportError, export_png
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint
from latent_atlas.models.data import load_dataset
from latent_atlas.models.errors import CheckpointError
from latent_atlas.models.training.events import TrainConfig
from latent_atlas.models.training.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent


def _mount(folder: Path, *options: str) -> str | None:
    """None when mounted, else why not."""
    if os.geteuid() != 0:
        return "not root: cannot mount a small tmpfs"
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=256k",) + options), "tmpfs",
                             str(folder)], capture_output=True, text=True, check=False)
    return None if result.returncode == 0 else f"mount -t tmpfs failed: {result.stderr.strip()}"


def _unmount(folder: Path) -> None:
    if subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB file system."""
    folder = tmp_path / "small"
    folder.mkdir()
    why = _mount(folder)
    if why:
        pytest.skip(why)
    try:
        yield folder
    finally:
        _unmount(folder)


@pytest.fixture
def read_only(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    why = _mount(folder)
    if why:
        pytest.skip(why)
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True, check=False)
        if remount.returncode != 0:
            pytest.skip(f"mount -o remount,ro failed: {remount.stderr.strip()}")
        yield folder
    finally:
        _unmount(folder)


def mlp_vae(hidden: int, image_shape=(1, 16, 16)):
    return make_tiny_model("vae", arch="mlp", image_shape=list(image_shape), latent_dim=2, hidden=hidden)


def fill(folder: Path, leave: int = 4096) -> None:
    """Take all but about `leave` bytes of the file system."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def assert_only(folder: Path, names: set[str]) -> None:
    """Nothing else in the folder: no temp file, no partial file."""
    assert {p.name for p in folder.iterdir()} - {"lost+found"} == names


def test_a_checkpoint_larger_than_the_disk_is_refused_and_the_old_one_kept(full_disk):
    path = full_disk / "model.safetensors"
    save_checkpoint(path, mlp_vae(8), train_state={"version": 1})
    before = path.read_bytes()
    with pytest.raises(CheckpointError) as err:
        save_checkpoint(path, mlp_vae(256), train_state={"version": 2})       # ~600 KB into 256 KiB
    assert str(path) in str(err.value) and "No space left on device" in str(err.value)
    assert path.read_bytes() == before
    assert load_checkpoint(path).train_state == {"version": 1}
    assert_only(full_disk, {"model.safetensors"})


def test_a_first_checkpoint_on_a_full_disk_leaves_no_file(full_disk):
    path = full_disk / "model.safetensors"
    with pytest.raises(CheckpointError, match="No space left"):
        save_checkpoint(path, mlp_vae(256))
    assert_only(full_disk, set())


def test_a_large_png_on_a_full_disk_is_an_export_error(full_disk):
    path = full_disk / "big.png"
    noise = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)   # ~790 KB as PNG
    with pytest.raises(ExportError) as err:
        export_png(path, noise)
    assert str(path) in str(err.value) and "No space left" in str(err.value)
    assert_only(full_disk, set())
    export_png(path, noise[:8, :8])                                                    # control: small fits
    assert_only(full_disk, {"big.png"})


def test_saving_into_a_read_only_folder_is_refused(read_only):
    path = read_only / "model.safetensors"
    with pytest.raises(CheckpointError) as err:
        save_checkpoint(path, mlp_vae(8))
    assert str(path) in str(err.value)
    with pytest.raises(ExportError) as err:
        export_png(read_only / "x.png", np.zeros((4, 4, 3), np.uint8))
    assert "x.png" in str(err.value)
    assert_only(read_only, set())


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits", limit=128)
    return torch.from_numpy(data.images)


def test_the_trainer_raises_when_its_save_fails_and_says_nothing_was_saved(full_disk, digits):
    model = mlp_vae(16, image_shape=(1, 8, 8))
    out = full_disk / "run.safetensors"
    trainer = Trainer(model, digits, None, TrainConfig(epochs=3, batch_size=64), out=out)
    saved = []
    with pytest.raises(CheckpointError) as err:
        for event in trainer.run():
            if event.kind == "checkpoint":
                saved.append(event.step)
                fill(full_disk)                    # the disk fills up after the first epoch's save
    assert str(out) in str(err.value) and "No space left" in str(err.value)
    assert saved == [2]                            # 128 images / 64: the first epoch's save, and no other
    assert trainer.last_saved == out
    assert load_checkpoint(out).train_state["step"] == 2
    leftovers = {p.name for p in full_disk.iterdir()} - {"filler", "run.safetensors",
                                                          "run.prev.safetensors"}
    assert leftovers == set()                      # no partial temp file from the save or the rotation


@pytest.mark.slow      # several seconds: the default run stays under CI's 5 minutes
def test_the_command_line_prints_one_error_line_and_exits_1_on_a_full_disk(full_disk):
    out = full_disk / "x.safetensors"
    fill(full_disk, leave=16384)
    result = subprocess.run(
        [sys.executable, "main.py", "train", "--model", "vae", "--dataset", "digits", "--limit", "64",
         "--epochs", "1", "--batch-size", "32", "--quiet", "--device", "cpu", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "OMP_NUM_THREADS": "1"})
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr
    assert len(errors) == 1 and errors[0].startswith("latent-atlas: error:"), result.stderr
    assert str(out) in errors[0] and "No space left" in errors[0]
    assert "saved" not in result.stdout
    assert not out.exists()
    assert {p.name for p in full_disk.iterdir()} == {"filler"}
