"""A small CNN that reads an emoji picture's skin tone and kind of person: the reader of the emoji arithmetic
(models/quality/emoji_arithmetic.py). Trained on real renders by scripts/train_emoji_classifier.py and stored
like the Fashion-MNIST classifier (safetensors beside a JSON with its sha256, checked on load); its penultimate
layer is the feature space in which a decoded edit is matched to the real render of the same base."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.data.emoji_catalogue import PERSONS, TONES
from latent_atlas.models.quality.classifier import conv_block, load_classifier

EMOJI_CLASSIFIER_PATH = resource_path("classifier", "emoji_classifier.safetensors")
FILE_FORMAT = "emoji-classifier"
INPUT_SIDE = 32           # pictures are read at 32x32: tone is a colour, person a coarse shape
FEATURE_DIM = 64


class EmojiClassifier(nn.Module):
    """(B, 3, H, W) in [0, 1] -> tone logits (B, 6: TONES) and person logits (B, 4: PERSONS).
    Three 3x3 conv blocks (32 -> 16 -> 8 -> 4) and one hidden layer: about 170k parameters."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(*conv_block(3, 32), *conv_block(32, 64), *conv_block(64, 96))   # (B, 96, 4, 4)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(96 * 4 * 4, FEATURE_DIM),
                                    nn.BatchNorm1d(FEATURE_DIM), nn.ReLU())
        self.tone = nn.Linear(FEATURE_DIM, len(TONES))
        self.person = nn.Linear(FEATURE_DIM, len(PERSONS))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != INPUT_SIDE or x.shape[-2] != INPUT_SIDE:
            x = F.interpolate(x, size=(INPUT_SIDE, INPUT_SIDE), mode="area")
        return self.hidden(self.conv(x * 2.0 - 1.0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.tone(h), self.person(h)


def load_emoji_classifier(path: str | Path = EMOJI_CLASSIFIER_PATH) -> EmojiClassifier:
    """The classifier in eval mode; CheckpointError if it is missing or does not match its record."""
    return load_classifier(path, network=EmojiClassifier(), what="emoji classifier")


def _as_float(images) -> torch.Tensor:
    x = torch.as_tensor(images)
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


@torch.inference_mode()
def read_emoji(classifier: EmojiClassifier, images, batch_size: int = 500):
    """uint8 or [0, 1] (N, 3, H, W) -> (tone indices (N,), person indices (N,), features (N, 64) float64)."""
    classifier.eval()
    x = _as_float(images)
    tones, persons, feats = [], [], []
    for i in range(0, len(x), batch_size):
        h = classifier.features(x[i:i + batch_size])
        tones.append(classifier.tone(h).argmax(1))
        persons.append(classifier.person(h).argmax(1))
        feats.append(h.double())
    if not tones:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, FEATURE_DIM))
    return torch.cat(tones).numpy(), torch.cat(persons).numpy(), torch.cat(feats).numpy()


def label_indices(values, names) -> np.ndarray:
    """Column of names ("medium", "mixed", ...) -> indices into names, -100 (ignored) where not in names."""
    lookup = {n: i for i, n in enumerate(names)}
    return np.array([lookup.get(str(v), -100) for v in values], dtype=np.int64)


def toneable_tone_labels(columns) -> np.ndarray:
    """Tone indices of a data set's rows, -100 (ignored) for rows whose base emoji has no toned variant.

    The reader is only ever asked the tone of a tone-able base (a person, a hand): trained to say "none" for the
    3,000 emoji that never have a tone (brown food, animals, flags), it also says "none" for a toned shape it has
    not seen, and misses one held-out toned target in five (docs/quality.md)."""
    tone = label_indices(columns["tone"], TONES)
    toned_bases = np.unique(columns["base"][tone >= 1])
    return np.where(np.isin(columns["base"], toned_bases), tone, -100)
