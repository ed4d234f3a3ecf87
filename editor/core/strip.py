"""Interpolation strips, Qt-free: map points -> waypoint latents -> the latents of N evenly spaced frames.

A strip runs through P >= 2 waypoints (lerp or slerp per segment, spaced by arc length, via
models.latent_math.interpolation_path); its first and last frames are the first and last waypoints exactly.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latent_atlas.editor.core.waypoints import Waypoints  # noqa: F401  (imported from here by panels)
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
    points = np.asarray(np.stack(list(waypoints)), np.float32)
    if not 2 <= n_frames <= MAX_FRAMES:
        raise ValueError(f"a strip has 2..{MAX_FRAMES} frames; got {n_frames}")
    return np.asarray(interpolation_path(points, int(n_frames), mode), np.float32)   # numpy: ~0.1 ms, not ~1


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
