"""The path an interpolation strip follows, as latents: Qt- and torch-free, so the editor state can own one
per model (editor.core.state) without importing torch."""
from __future__ import annotations

import numpy as np


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
