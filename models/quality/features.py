"""Classifier features and predictions for batches of images in [0, 1] (B, 1, 28, 28)."""
from __future__ import annotations

import numpy as np
import torch


def _as_float(images) -> torch.Tensor:
    """uint8 (N, C, H, W) arrays/tensors become [0, 1] floats; float input is taken as [0, 1] already."""
    x = torch.as_tensor(images)
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


@torch.inference_mode()
def features(classifier, images, batch_size: int = 500) -> np.ndarray:
    """(N, 1, 28, 28) images -> (N, 128) float64 penultimate-layer features."""
    classifier.eval()
    x = _as_float(images)
    out = [classifier.features(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(out).double().numpy()


@torch.inference_mode()
def classify(classifier, images, batch_size: int = 500) -> torch.Tensor:
    """(N, 1, 28, 28) images -> (N,) predicted class indices."""
    classifier.eval()
    x = _as_float(images)
    return torch.cat([classifier(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
