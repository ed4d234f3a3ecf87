"""Live loss curves: one small plot per term, the raw values thin and faint, their moving average thick,
epoch ends as vertical lines. Redrawn from a LossBuffer by `refresh()` on the panel's timer, never per
event; the curves and lines are created when a run starts and updated with setData / setPos after that.

The ranges are set here, not by pyqtgraph's auto-range: auto-range moves the axes on every new point,
and regenerating four axes' ticks and text is most of what a redraw costs (and it holds the GIL the
training thread needs). Here x grows by half at a time and y changes only when the data leaves it or
shrinks well inside it, so most redraws move no axis.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from latent_atlas.editor.core.loss_buffer import LossBuffer
from latent_atlas.editor.widgets.palette import TAB10
from latent_atlas.editor.widgets.plain_text import html_text

MAX_EPOCH_LINES = 100           # past this many epochs only every k-th boundary is drawn
COLUMNS = 2
# short titles: a plot is never narrower than its title, and the panel shares the window with the map
TITLES = {"recon": "reconstruction", "kl": "KL", "beta_kl": "β·KL", "elbo": "ELBO",
          "d_loss": "D loss", "g_loss": "G loss", "d_real": "mean D(x)", "d_fake": "mean D(G(z))",
          "jsd": "JSD ≈ V + log 2", "consistency": "condition consistency"}


class CompactAxis(pg.AxisItem):
    """A value axis for short plots: major ticks at least LABEL_PX pixels apart, so their labels never overlap.
    pyqtgraph always labels at least two or three major ticks, which overlap on a 40-pixel-high plot (five
    terms share the panel for a CVAE with condition consistency)."""
    LABEL_PX = 16

    def tickSpacing(self, minVal, maxVal, size):
        levels = super().tickSpacing(minVal, maxVal, size)
        if not levels or self._tickSpacing is not None:
            return levels
        major, span = levels[0][0], abs(maxVal - minVal)
        for _ in range(12):
            if major * size / span >= self.LABEL_PX:
                break
            major = next_round_step(major)
        return [(major, 0)] + [level for level in levels[1:] if level[0] < major]


def next_round_step(step: float) -> float:
    """The next of 1, 2, 5, 10, 20, 50, ... above `step` (one of them)."""
    exponent = math.floor(math.log10(step) + 1e-9)
    mantissa = step / 10 ** exponent
    return (2 if mantissa < 1.5 else 5 if mantissa < 3.5 else 10) * 10 ** exponent


class TermPlot:
    """The items of one term's plot, created once."""

    def __init__(self, plot: pg.PlotItem, colour: str):
        self.plot = plot
        faint = pg.mkColor(colour).darker(220)     # opaque: blending a translucent pen costs every frame
        self.raw = plot.plot(pen=pg.mkPen(faint, width=1), skipFiniteCheck=True)
        self.smooth = plot.plot(pen=pg.mkPen(colour, width=2), skipFiniteCheck=True)
        for curve in (self.raw, self.smooth):
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
        # epoch ends: one item drawing every boundary as a segment ("pairs"), created once; one Python
        # paint call per frame instead of one per line, which matters while training holds the GIL
        self.epochs = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True,
                                       pen=pg.mkPen((110, 110, 110), width=1, style=Qt.PenStyle.DashLine))
        plot.addItem(self.epochs, ignoreBounds=True)
        self.epoch_steps = np.empty(0)
        self.y_range: tuple[float, float] | None = None

    def fit_y(self, raw: np.ndarray) -> None:
        """Moves the y range only if the data left it or fills less than 40 % of it."""
        if not len(raw):
            return
        lo, hi = float(raw.min()), float(raw.max())
        if self.y_range is not None:
            a, b = self.y_range
            if a <= lo and hi <= b and (hi - lo) >= 0.4 * (b - a):
                return
        pad = max(0.05 * (hi - lo), 1e-6 * max(abs(lo), abs(hi), 1.0))
        self.y_range = (lo - pad, hi + pad)
        self.plot.setYRange(*self.y_range, padding=0)
        self._draw_epochs()

    def show_epochs(self, steps: np.ndarray) -> None:
        """One vertical segment per boundary, all in one item spanning the y range."""
        self.epoch_steps = np.asarray(steps, np.float64)
        self._draw_epochs()

    def _draw_epochs(self) -> None:
        n = len(self.epoch_steps)
        if n == 0 or self.y_range is None:
            self.epochs.setData([], [])
            return
        self.epochs.setData(np.repeat(self.epoch_steps, 2), np.tile(np.asarray(self.y_range), n))


class LossPlots(pg.GraphicsLayoutWidget):
    def __init__(self, buffer: LossBuffer, parent=None):
        super().__init__(parent)
        self.buffer = buffer
        self.terms: tuple[str, ...] = ()
        self.plots: dict[str, TermPlot] = {}
        self._drawn_version = -1
        self._drawn_epochs = -1
        self.x_range: tuple[float, float] | None = None
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.setMinimumHeight(220)
        # until the first run: say what will be here rather than show an empty black box
        self.placeholder = self.addLabel("Loss curves appear here once a run starts:<br>reconstruction, KL "
                                         "and ELBO for a VAE,<br>discriminator and generator losses for a GAN.",
                                         color="#8a8a8a", size="9pt")

    def set_terms(self, terms: tuple[str, ...]) -> None:
        """Builds the plots for a run's terms; keeps them (and their items) when the terms are the same."""
        self.x_range = None
        if tuple(terms) == self.terms:
            for p in self.plots.values():
                p.show_epochs(np.empty(0))
                p.y_range = None
            self._drawn_version = self._drawn_epochs = -1
            return
        self.clear()
        self.placeholder = None
        self.terms, self.plots = tuple(terms), {}
        first = None
        for i, name in enumerate(terms):
            row, col = divmod(i, COLUMNS)
            plot = self.addPlot(row=row, col=col, axisItems={"left": CompactAxis("left")})
            plot.setTitle(html_text(TITLES.get(name, name)), size="9pt")   # a resumed file names terms
            plot.setMinimumWidth(60)
            plot.getAxis("left").setWidth(38)
            plot.setMouseEnabled(x=False, y=False)
            plot.disableAutoRange()
            plot.hideButtons()
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.plots[name] = TermPlot(plot, TAB10[i % len(TAB10)])
        self._drawn_version = self._drawn_epochs = -1

    def refresh(self) -> bool:
        """Redraws if the buffer changed since the last call; True if it drew."""
        buf = self.buffer
        if buf.version == self._drawn_version:
            return False
        self._drawn_version = buf.version
        first, last = np.inf, -np.inf
        for name, term in self.plots.items():
            x, raw, smooth = buf.series(name)
            term.raw.setData(x, raw)
            term.smooth.setData(x, smooth)
            term.fit_y(raw)
            if len(x):
                first, last = min(first, x[0]), max(last, x[-1])
        if np.isfinite(first):
            self._fit_x(float(first), float(last))
        if buf.n_epochs != self._drawn_epochs:
            self._drawn_epochs = buf.n_epochs
            epochs = buf.epochs
            every = int(np.ceil(len(epochs) / MAX_EPOCH_LINES)) if len(epochs) else 1
            shown = epochs[every - 1::every]
            for term in self.plots.values():
                term.show_epochs(shown)
        return True

    def _fit_x(self, first: float, last: float) -> None:
        """x runs from the first point to half as far again as the data, so it moves ~log(steps) times."""
        if self.x_range is not None and self.x_range[0] <= first and last <= self.x_range[1]:
            return
        end = first + max(1.5 * (last - first), 10.0)
        self.x_range = (first, end)
        next(iter(self.plots.values())).plot.setXRange(first, end, padding=0)   # the others are linked

    def point_count(self, name: str) -> int:
        """How many points the term's raw curve shows (what the user sees; tests read it)."""
        term = self.plots.get(name)
        if term is None or term.raw.xData is None:
            return 0
        return len(term.raw.xData)

    def x_range_of_data(self, name: str) -> tuple[float, float]:
        term = self.plots[name]
        x = term.raw.xData
        return (float(x[0]), float(x[-1])) if x is not None and len(x) else (np.nan, np.nan)
