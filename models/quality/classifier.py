"""A small CNN that classifies Fashion-MNIST (1, 28, 28) images; its penultimate layer is the feature
space of the quality metrics. Stored as safetensors beside a JSON that records its version and sha256:
a file that does not match its recorded checksum is refused, so every reported number comes from the
same network."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from torch import nn

from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.checkpoints.atomic_io import atomic_write, atomic_write_bytes
from latent_atlas.models.errors import CheckpointError
from latent_atlas.models.safe_files import open_regular, read_json, regular_file_size

CLASSIFIER_PATH = resource_path("classifier", "fashion_classifier.safetensors")
FORMAT_VERSION = 1
IMAGE_SHAPE = (1, 28, 28)
FEATURE_DIM = 128
MAX_RECORD_BYTES = 1 << 20    # the record is a few hundred bytes of JSON


def conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    """3x3 conv, batch norm, ReLU, 2x2 max pool: one stage of the project's small classifiers."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]


class FashionClassifier(nn.Module):
    """Three 3x3 conv blocks (28 -> 14 -> 7 -> 3) and one hidden layer: about 190k parameters (0.75 MB)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv = nn.Sequential(*conv_block(1, 32), *conv_block(32, 64), *conv_block(64, 96))   # (B, 96, 3, 3)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(96 * 3 * 3, FEATURE_DIM),
                                    nn.BatchNorm1d(FEATURE_DIM), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(FEATURE_DIM, n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 28, 28) in [0, 1] -> (B, 128) penultimate activations."""
        return self.hidden(self.conv(x * 2.0 - 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))                      # (B, n_classes) logits


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open_regular(path, CheckpointError, "classifier file") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def info_path(path: Path) -> Path:
    return path.with_suffix(".json")


def save_classifier(model: nn.Module, path: str | Path = CLASSIFIER_PATH, *, file_format: str = "fashion-classifier",
                    **info) -> Path:
    """Writes the weights, then the JSON with their sha256 (both atomically)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"format": file_format,
                                                                          "version": str(FORMAT_VERSION)}))
    record = {"version": FORMAT_VERSION, "file": path.name, "sha256": _sha256(path), **info}
    atomic_write_bytes(info_path(path), (json.dumps(record, indent=2) + "\n").encode())
    return path


def load_classifier(path: str | Path = CLASSIFIER_PATH, network=None, what: str = "Fashion-MNIST classifier"):
    """The classifier in eval mode; CheckpointError if the file or its JSON is missing or does not match.
    network: the empty module the weights go into (default a FashionClassifier); what: its name in errors."""
    from safetensors.torch import load_file

    path = Path(path)
    record_path = info_path(path)
    if not os.path.lexists(path):
        raise CheckpointError(f"{path}: classifier not found; build it with `python scripts/train_classifier.py`")
    regular_file_size(path, CheckpointError, "classifier file")        # a FIFO, device or folder: refused
    record = read_json(record_path, MAX_RECORD_BYTES, CheckpointError, "classifier record")
    if not isinstance(record, dict) or record.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{record_path}: unsupported classifier record version "
                              f"{record.get('version') if isinstance(record, dict) else record!r}")
    actual = _sha256(path)
    if actual != record.get("sha256"):
        raise CheckpointError(f"{path}: sha256 {actual[:16]}... does not match {record.get('sha256')!s:.16}... "
                              f"recorded in {record_path.name}; the classifier file was changed or corrupted")
    model = network if network is not None else FashionClassifier()
    try:
        model.load_state_dict(load_file(str(path)))
    except Exception as e:  # noqa: BLE001 -- safetensors and shape errors both become a CheckpointError
        raise CheckpointError(f"{path}: not a {what} ({e})") from None
    return model.eval()


def classifier_record(path: str | Path = CLASSIFIER_PATH) -> dict:
    return read_json(info_path(Path(path)), MAX_RECORD_BYTES, CheckpointError, "classifier record")
