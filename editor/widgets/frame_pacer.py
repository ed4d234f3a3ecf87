"""At most one redraw per display frame: the first request of a burst runs at once, later requests within the
same frame interval run once, together, when it ends.

A drag delivers mouse moves faster than a screen shows them (125 a second from a USB mouse, 1000 from some;
screens show 60), and each redraw of the map costs the GUI thread a millisecond or two that the decode of
the next strip needs on a busy machine (issue 18). The callback reads the newest state when it runs, so
nothing requested is lost: only redraws that no one could have seen are skipped.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication

DEFAULT_HZ = 60.0
MIN_HZ, MAX_HZ = 30.0, 240.0        # a screen that reports nothing sensible is taken as DEFAULT_HZ


def display_hz() -> float:
    """The primary screen's refresh rate, or DEFAULT_HZ when there is none or it reports nonsense."""
    screen = QGuiApplication.primaryScreen()
    hz = screen.refreshRate() if screen is not None else 0.0
    return float(hz) if MIN_HZ <= hz <= MAX_HZ else DEFAULT_HZ


class FramePacer(QObject):
    """Calls `callback()` for request(), at most once per 1/hz seconds (hz: the screen's refresh by default)."""

    def __init__(self, callback: Callable[[], None], parent: QObject | None = None, hz: float | None = None):
        super().__init__(parent)
        self._callback = callback
        self.interval_s = 1.0 / (hz if hz else display_hz())
        self._last = -math.inf
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._run)

    def request(self) -> None:
        if self._timer.isActive():                 # already due at the end of this frame: it will see the newest
            return
        wait_s = self._last + self.interval_s - time.perf_counter()
        if wait_s <= 0:
            self._run()
        else:
            self._timer.start(max(1, math.ceil(wait_s * 1000)))

    def pending(self) -> bool:
        return self._timer.isActive()

    def flush(self) -> None:
        """Runs a pending redraw now (the end of a drag draws its last position without waiting)."""
        if self._timer.isActive():
            self._timer.stop()
            self._run()

    def cancel(self) -> None:
        """Drops a pending redraw (what it would have drawn was taken away)."""
        self._timer.stop()

    def _run(self) -> None:
        self._last = time.perf_counter()
        self._callback()
