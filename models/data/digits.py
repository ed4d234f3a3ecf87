"""sklearn's bundled 8x8 handwritten digits (1,797 images): needs no download, so it always works."""

from __future__ import annotations

import numpy as np

from latent_atlas.models.data.image_data import ImageData
from latent_atlas.models.errors import DatasetError

TRAIN_FRACTION = 0.8
SPLIT_SEED = 0   # fixed, not the caller's seed: train and test must never swap items between runs


def load_digits(split: str = "train") -> ImageData:
    """The train (80%) or test (20%) part of the digits, as (N, 1, 8, 8) uint8 with labels 0-9."""
    from sklearn.datasets import load_digits as sklearn_digits  # sklearn is slow to import; only when asked

    try:
        bunch = sklearn_digits()
    except Exception as exc:   # a broken sklearn install must still read as a dataset problem
        raise DatasetError(f"sklearn digits: cannot load the bundled data ({exc})") from exc
    values = np.asarray(bunch.images, dtype=np.float64)               # (1797, 8, 8) in 0..16
    images = np.round(values * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = np.asarray(bunch.target, dtype=np.int64)

    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    n_train = round(TRAIN_FRACTION * len(images))   # 1,438 of 1,797
    if split == "train":
        idx = order[:n_train]
    elif split == "test":
        idx = order[n_train:]
    else:
        raise DatasetError(f"digits: unknown split '{split}': use 'train' or 'test'")
    return ImageData(images=images[idx], labels=labels[idx], label_names=[str(d) for d in range(10)],
                     attributes=None, attribute_names=[], name="digits", source="sklearn")
