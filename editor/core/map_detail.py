"""Level of detail for the latent map: which data points to draw for a view, so that 100,000 points pan as
fast as 10,000 do.

Zoomed out (more than `budget` points near the view) the map draws a fixed random subsample: the first
`budget` points, in one shuffled order, that lie near the view. Zoomed in (at most `budget` near the view) it
draws every one of them. "Near" is the view grown by a quarter of its size on each side, so that a pan or a small
zoom keeps the choice and the scatter is not rebuilt on every frame. The same shuffled order at every level
makes the points drawn when zoomed out a subset of those drawn when zoomed in.

Hover, click and lasso never use this subset: they search all the points.
"""
from __future__ import annotations

import numpy as np

DRAW_BUDGET = 8_000        # bench_map: 100,000 points pan at 60+ frames/s on the 2-core machine
MARGIN = 0.25           # the region chosen for is the view grown by this fraction of its size on each side
REZOOM = 0.7            # a subsampled choice is redone once the view shrinks below this fraction of its width


class LevelOfDetail:
    def __init__(self, embedding: np.ndarray, budget: int = DRAW_BUDGET, seed: int = 0):
        self.embedding = np.asarray(embedding, np.float32)
        self.budget = int(budget)
        self.order = np.random.default_rng(seed).permutation(len(self.embedding))
        self.region: tuple[float, float, float, float] | None = None   # x0, x1, y0, y1 of the last choice
        self.complete = False          # the last choice holds every point of its region
        self._width = 0.0

    def covers(self, view: tuple[float, float, float, float]) -> bool:
        """True while the last choice still serves `view` (x0, x1, y0, y1): every point in view is drawn,
        or the view is a subsampled one of about the same zoom inside the region chosen for."""
        if self.region is None:
            return False
        if len(self.embedding) <= self.budget:
            return True
        x0, x1, y0, y1 = view
        r = self.region
        if not (r[0] <= x0 and x1 <= r[1] and r[2] <= y0 and y1 <= r[3]):
            return False
        return self.complete or (x1 - x0) >= REZOOM * self._width

    def choose(self, view: tuple[float, float, float, float]) -> np.ndarray:
        """Sorted indices of the points to draw for `view` (x0, x1, y0, y1)."""
        n = len(self.embedding)
        x0, x1, y0, y1 = view
        self._width = x1 - x0
        if n <= self.budget:
            self.region, self.complete = (-np.inf, np.inf, -np.inf, np.inf), True
            return np.arange(n)
        mx, my = MARGIN * (x1 - x0), MARGIN * (y1 - y0)
        self.region = (x0 - mx, x1 + mx, y0 - my, y1 + my)
        e = self.embedding
        near = ((e[:, 0] >= self.region[0]) & (e[:, 0] <= self.region[1])
                & (e[:, 1] >= self.region[2]) & (e[:, 1] <= self.region[3]))
        if int(near.sum()) <= self.budget:
            self.complete = True
            return np.flatnonzero(near)
        self.complete = False
        return np.sort(self.order[near[self.order]][: self.budget])
