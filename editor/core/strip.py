"""Interpolation strips, Qt-free: map points -> waypoint latents -> the latents of N evenly spaced frames.

A strip runs through P >= 2 waypoints (lerp or slerp per segment, spaced by arc length, via
models.latent_math.interpolation_path); its first and last frames are the first and last waypoints exactly.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latent_atlas.models.latent.latent_math import interpolation_path

MODES = ("slerp", "lerp")
MAX_FRAMES = 32


def endpoint_latent(loaded, x: float, y: float, data_index: int = -1) -> np.ndarray:
    """The latent an endpoint at map point (x, y) stands for, (D,) float32: a data point's own latent
    when the point is on one (data_index >= 0), else the projection's inverse of (x, y)."""
    if data_index is not None and data_index >= 0:
        return loaded.latents[data_index].astype(np.float32).copy()
    if loaded.projection is None:
        raise ValueError("the map has no projection yet: cannot turn a map point into a latent")
    return loaded.projection.inverse(np.array([[x, y]], np.float32))[0].astype(np.float32)


def strip_latents(waypoints: Sequence[np.ndarray] | np.ndarray, n_frames: int, mode: str = "slerp") -> np.ndarray:
    """(n_frames, D) float32 latents along the path through the waypoints ((P, D) or a list of (D,))."""
    points = torch.from_numpy(np.asarray(np.stack(list(waypoints)), np.float32))
    if not 2 <= n_frames <= MAX_FRAMES:
        raise ValueError(f"a strip has 2..{MAX_FRAMES} frames; got {n_frames}")
    return interpolation_path(points, int(n_frames), mode).numpy()


class Waypoints:
    """The path the strip follows: A (first), any middle stops, B (last). Latents are (D,) float32."""

    def __init__(self) -> None:
        self.points: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.points)

    def clear(self) -> None:
        self.points = []

    def set_ends(self, a: np.ndarray, b: np.ndarray) -> None:
        """A drag: a straight two-point path, middle stops dropped."""
        self.points = [_latent(a), _latent(b)]

    def set_end(self, b: np.ndarray) -> None:
        """Moves B (during a drag); becomes B when only A is set."""
        if len(self.points) >= 2:
            self.points[-1] = _latent(b)
        else:
            self.points.append(_latent(b))

    def set_a(self, a: np.ndarray) -> None:
        if self.points:
            self.points[0] = _latent(a)
        else:
            self.points.append(_latent(a))

    def set_b(self, b: np.ndarray) -> None:
        if not self.points:
            self.points.append(_latent(b))   # a lone B is A too until the user sets A
        self.set_end(b)

    def add(self, z: np.ndarray) -> None:
        """A new stop at the end of the path: A -> ... -> old B -> z."""
        self.points.append(_latent(z))

    def ready(self) -> bool:
        return len(self.points) >= 2

    def describe(self) -> str:
        n = len(self.points)
        if n == 0:
            return "no path yet"
        if n == 1:
            return "A set: set B (or drag on the map)"
        return f"path through {n} waypoints" if n > 2 else "path A → B"


def _latent(z) -> np.ndarray:
    z = np.asarray(z, np.float32).reshape(-1)
    if not np.isfinite(z).all():
        raise ValueError("a waypoint latent must be finite")
    return z.copy()


def waypoints_from_json(value, latent_dim: int) -> list[np.ndarray] | None:
    """Waypoints as a session stores them (a list of lists of numbers), checked: None unless every one
    is `latent_dim` finite numbers. An empty list is a valid, empty path."""
    if not isinstance(value, list) or len(value) > 1000:
        return None
    points = []
    for item in value:
        if not isinstance(item, list) or len(item) != latent_dim \
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in item):
            return None
        z = np.asarray(item, np.float64)
        if not np.isfinite(z).all() or np.abs(z).max(initial=0) > 1e6:
            return None
        points.append(z.astype(np.float32))
    return points
