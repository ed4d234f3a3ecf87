"""Loss curves as preallocated numpy arrays: appending a point never allocates (until a buffer doubles),
and the plot reads views of them on a timer. No Qt.

Each term keeps its own x (training step), raw value and exponential moving average. Non-finite values
are dropped on the way in, so a NaN in one term leaves a gap in that curve only and never reaches the
plot. Past `max_points` a curve is thinned 2:1 (like the trainer's history), so a run of days stays
bounded in memory while keeping its whole shape.
"""
from __future__ import annotations

import math

import numpy as np

INITIAL_CAPACITY = 1024
MAX_POINTS = 200_000        # ~5.5 hours at 10 points per second before the first thinning


_BLOCK = 64


def moving_average(y: np.ndarray, alpha: float, previous: float) -> np.ndarray:
    """s[i] = (1 - alpha) * s[i-1] + alpha * y[i], with s[-1] = previous; in blocks of _BLOCK points, each one
    matrix product with the decay powers, so a long resumed history is not a Python loop. (scipy.signal.lfilter
    did this; importing scipy.signal took 1.5 s of the editor's start-up, on the GUI thread.)"""
    decay = 1.0 - alpha
    k = np.arange(_BLOCK)
    lag = k[:, None] - k[None, :]
    weights = np.where(lag >= 0, decay ** np.maximum(lag, 0), 0.0)            # (B, B) lower triangle
    carry = decay ** (k + 1)                                                  # weight of the previous value
    out = np.empty(len(y), np.float64)
    for start in range(0, len(y), _BLOCK):
        block = np.asarray(y[start:start + _BLOCK], np.float64)
        m = len(block)
        out[start:start + m] = alpha * (weights[:m, :m] @ block) + carry[:m] * previous
        previous = out[start + m - 1]
    return out


class Curve:
    """One term: x, raw and smoothed values in arrays that grow by doubling."""

    def __init__(self, capacity: int = INITIAL_CAPACITY):
        self.x = np.empty(capacity, np.float64)
        self.raw = np.empty(capacity, np.float64)
        self.smooth = np.empty(capacity, np.float64)
        self.n = 0

    def extend(self, x: np.ndarray, y: np.ndarray, alpha: float) -> None:
        """Append points (finite ones only); alpha is the EMA weight of the new point."""
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        if not len(x):
            return
        self._reserve(self.n + len(x))
        previous = self.smooth[self.n - 1] if self.n else y[0]
        s = moving_average(y, alpha, previous)
        end = self.n + len(x)
        self.x[self.n:end], self.raw[self.n:end], self.smooth[self.n:end] = x, y, s
        self.n = end

    def thin(self) -> None:
        """Keep every other point (the newest always stays)."""
        keep = np.arange(self.n - 1, -1, -2)[::-1]
        m = len(keep)
        for a in (self.x, self.raw, self.smooth):
            a[:m] = a[keep]
        self.n = m

    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.x[:self.n], self.raw[:self.n], self.smooth[:self.n]

    def _reserve(self, size: int) -> None:
        if size <= len(self.x):
            return
        capacity = max(size, 2 * len(self.x))
        for name in ("x", "raw", "smooth"):
            old = getattr(self, name)
            new = np.empty(capacity, np.float64)
            new[:self.n] = old[:self.n]
            setattr(self, name, new)


class LossBuffer:
    """All curves of one run plus the epoch boundaries. `version` changes whenever anything does, so a
    redraw timer can skip frames with nothing new."""

    def __init__(self, smoothing: float = 0.7, max_points: int = MAX_POINTS):
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be within [0, 1), got {smoothing}")
        self.alpha = 1.0 - smoothing
        self.max_points = max(2, int(max_points))
        self.curves: dict[str, Curve] = {}
        self._epochs = np.empty(64, np.float64)
        self.n_epochs = 0
        self.version = 0
        self.last_step = 0.0

    def reset(self, names=()) -> None:
        self.curves = {name: Curve() for name in names}
        self.n_epochs = 0
        self.last_step = 0.0
        self.version += 1

    def append(self, step: float, terms: dict[str, float]) -> None:
        """One progress event: a value per term at `step`. Non-finite values (and NaN steps) are dropped."""
        if not math.isfinite(step):
            return
        x = np.array([float(step)])
        for name, value in terms.items():
            curve = self.curves.get(name)
            if curve is None:
                curve = self.curves[name] = Curve()
            curve.extend(x, np.array([_as_float(value)]), self.alpha)
            if curve.n > self.max_points:
                curve.thin()
        self.last_step = max(self.last_step, float(step))
        self.version += 1

    def mark_epoch(self, step: float) -> None:
        """An epoch ended at `step` (drawn as a vertical line); repeated steps are ignored."""
        if not math.isfinite(step) or (self.n_epochs and self._epochs[self.n_epochs - 1] >= step):
            return
        if self.n_epochs == len(self._epochs):
            self._epochs = np.concatenate([self._epochs, np.empty_like(self._epochs)])
        self._epochs[self.n_epochs] = step
        self.n_epochs += 1
        self.version += 1

    def load_history(self, history: dict, steps_per_epoch: int = 0) -> None:
        """A checkpoint's history ({"step": [...], "epoch": [...], term: [...]}) as the start of the curves,
        so a resumed run continues where the saved one stopped."""
        steps = np.asarray(history.get("step", []), np.float64)
        for name, values in history.items():
            if name in ("step", "epoch"):
                continue
            y = np.array([_as_float(v) for v in values], np.float64)
            n = min(len(steps), len(y))
            curve = self.curves.setdefault(name, Curve())
            curve.extend(steps[:n], y[:n], self.alpha)
            while curve.n > self.max_points:
                curve.thin()
        if len(steps):
            self.last_step = max(self.last_step, float(np.nanmax(steps)))
            if steps_per_epoch > 0:
                for k in range(1, int(self.last_step // steps_per_epoch) + 1):
                    self.mark_epoch(k * steps_per_epoch)
        self.version += 1

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, raw values, smoothed values): views, valid until the next append."""
        curve = self.curves.get(name)
        if curve is None:
            empty = np.empty(0)
            return empty, empty, empty
        return curve.view()

    @property
    def epochs(self) -> np.ndarray:
        return self._epochs[:self.n_epochs]

    def __len__(self) -> int:
        return max((c.n for c in self.curves.values()), default=0)


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
