"""The t-SNE progress line (issue 15, finding 7; found again on the Xvfb walk): its percentage is the bar's, its
time left follows the iterations' pace (not the set-up before them), and the bar and Cancel do not move while
the line grows."""
from __future__ import annotations

import re


class Clock:
    def __init__(self):
        self.now = 100.0

    def perf_counter(self):
        return self.now


def test_the_line_agrees_with_the_bar_and_its_time_left_counts_down(window, monkeypatch):
    import latent_atlas.editor.window_status as window_status

    clock = Clock()
    monkeypatch.setattr(window_status, "time", clock)
    c = window.controller
    c.projection_started.emit("tsne")
    clock.now += 30.0                         # the neighbour graph: 30 s before the first iteration
    lefts, bar_x = [], []
    for i, fraction in enumerate([0.10, 0.2, 0.3, 0.4, 0.5, 0.575, 0.6, 0.7, 0.8, 0.9]):
        if i:
            clock.now += 10.0 * (fraction - prev) / 0.1          # a steady 10 s per tenth from here
        prev = fraction
        c.projection_progress.emit(fraction, "tsne")
        line = window.progress_label.text()
        assert re.search(r"(\d+)%", line).group(1) + "%" == window.progress.text()   # 57% under a 57% bar
        m = re.search(r"about (\d+):(\d\d) left", line)
        if m:
            lefts.append(int(m.group(1)) * 60 + int(m.group(2)))
        bar_x.append(window.progress.mapTo(window, window.progress.rect().topLeft()).x())
    assert lefts and all(a > b for a, b in zip(lefts, lefts[1:]))     # counts down, never stands still
    assert abs(lefts[-1] - 10) <= 1                                   # 0.9 done at 10 s a tenth: 10 s left
    assert len(set(bar_x)) == 1                                       # the bar stays where it is
    c.projection_ready.emit("tsne")
