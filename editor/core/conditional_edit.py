"""Qt-free: "keep these attributes" in the Attributes tab, InterFaceGAN's conditional edit
(latent_math.conditional_direction): the kept vectors' span is projected out of the picked vector, so
moving along it leaves their coordinates, and a linear read-out of them, unchanged."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latent_atlas.models.latent import latent_math


@dataclass(frozen=True)
class ConditionalEdit:
    vector: np.ndarray                       # (D,) float32: the picked vector minus its part in the kept span
    removed: float                           # cosine between the picked vector and the kept span, in [0, 1]
    cosines: tuple[tuple[str, float], ...]   # (kept name, |cos| of the picked vector with it) before

    def text(self, picked: str) -> str:
        names = [n for n, _ in self.cosines]
        each = "" if len(names) < 2 else " (" + ", ".join(f"{c:.2f} with {n}" for n, c in self.cosines) + ")"
        return f"{picked}: removed cos {self.removed:.2f} with {', '.join(names)}{each}"


def keep_attributes(vector: np.ndarray, kept: list[tuple[str, np.ndarray]]) -> ConditionalEdit:
    """The picked vector with the span of the kept ones projected out; ValueError when nothing is kept."""
    if not kept:
        raise ValueError("choose at least one vector to keep")
    v = torch.from_numpy(np.asarray(vector, np.float64))
    protected = [torch.from_numpy(np.asarray(k, np.float64)) for _, k in kept]
    out, removed = latent_math.conditional_direction(v, protected)
    cosines = tuple((name, abs(float(latent_math.cosine(v, p)))) for (name, _), p in zip(kept, protected))
    return ConditionalEdit(out.numpy().astype(np.float32), removed, cosines)
