"""Faults that must leave the user's work alone: a failed open keeps the loaded model bit for bit, and
exploding gradients stop training without writing a non-finite checkpoint."""
from __future__ import annotations

import hashlib
import json
import struct

import pytest
import torch
from conftest import make_tiny_model

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint
from latent_atlas.models.config import VAEConfig
from latent_atlas.models.data import load_dataset
from latent_atlas.models.errors import TrainingDiverged
from latent_atlas.models.registry import build_model
from latent_atlas.models.training.events import TrainConfig
from latent_atlas.models.training.trainer import Trainer
from tests.editor_helpers import open_and_wait


def weights_hash(model) -> str:
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        h.update(key.encode() + value.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def with_nan_weight(src, dst):
    """A copy of a valid checkpoint whose first float tensor holds a NaN (header and sizes intact)."""
    raw = bytearray(src.read_bytes())
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    name = next(k for k, v in header.items() if k.startswith("model.") and v["dtype"] == "F32")
    start = 8 + n + header[name]["data_offsets"][0]
    raw[start:start + 4] = struct.pack("<f", float("nan"))
    dst.write_bytes(bytes(raw))
    return dst


@pytest.mark.parametrize("fault", ["nan-weights", "wrong-architecture"])
def test_failed_open_keeps_the_loaded_model_unchanged(qtbot, window, digits_vae_path, tmp_path, fault):
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    before = weights_hash(loaded.model)
    if fault == "nan-weights":
        bad = with_nan_weight(digits_vae_path, tmp_path / "nan.safetensors")
    else:
        other = build_model("vae", VAEConfig(image_shape=(1, 8, 8), latent_dim=6, width=16, hidden=64))
        bad = save_checkpoint(tmp_path / "other.safetensors", other)
        header_len = struct.unpack("<Q", bad.read_bytes()[:8])[0]
        raw = bytearray(bad.read_bytes())
        text = raw[8:8 + header_len].decode().replace('\\"latent_dim\\": 6', '\\"latent_dim\\": 4')
        assert len(text.encode()) == header_len   # same length: only the config disagrees with the tensors
        raw[8:8 + header_len] = text.encode()
        bad.write_bytes(bytes(raw))
    with qtbot.waitSignal(window.controller.load_failed, timeout=10_000):
        window.open_path(str(bad))
    assert bad.name in window.errors[-1]
    assert window.state.loaded is loaded and weights_hash(loaded.model) == before


def test_negative_control_the_hash_sees_a_changed_weight(digits_vae_path):
    model = load_checkpoint(digits_vae_path).model
    before = weights_hash(model)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-3
    assert weights_hash(model) != before


def test_exploding_gradients_stop_training_and_keep_the_last_good_file(tmp_path):
    data = load_dataset("digits")
    model = make_tiny_model("vae")
    out = tmp_path / "run.safetensors"
    # lr 1e8 makes the weights explode within a few steps after the first epoch's checkpoint
    trainer = Trainer(model, torch.from_numpy(data.images), None, TrainConfig(epochs=50, lr=1e8, batch_size=64),
                      out=out)
    with pytest.raises(TrainingDiverged, match="diverged at step"):
        for _ in trainer.run():
            pass
    if out.exists():   # whatever was written is finite and loads
        ckpt = load_checkpoint(out)
        assert all(torch.isfinite(v).all() for v in ckpt.model.state_dict().values() if v.is_floating_point())
