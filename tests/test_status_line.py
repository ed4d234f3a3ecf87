"""The status line: long text elided to its width, the whole in the tooltip; the same text again costs nothing."""
from __future__ import annotations

from latent_atlas.editor.widgets.status_line import StatusLine


def test_a_long_line_is_elided_and_the_same_line_again_is_not_laid_out_again(qtbot, monkeypatch):
    line = StatusLine()
    qtbot.addWidget(line)
    line.resize(120, 20)
    line.show()
    qtbot.waitExposed(line)
    text = "a path of 16 frames through 2 waypoints, slerp, from the first image to the last " * 2
    line.setText(text)
    assert line.text() == text.strip() or line.text() == text
    shown = super(StatusLine, line).text()
    assert shown != line.text() and shown.endswith("…")
    assert text.strip()[:20] in line.toolTip()
    calls = []
    elide = line._elide
    monkeypatch.setattr(line, "_elide", lambda: (calls.append(1), elide()))
    for _ in range(5):                      # each strip of a drag sets the same description
        line.setText(text)
    assert calls == []
    line.setText("short")
    assert calls == [1] and super(StatusLine, line).text() == "short"
    line.resize(2000, 20)                   # a resize still re-elides (the long text shows whole)
    line.setText(text)
    qtbot.wait(20)
    assert super(StatusLine, line).text() == line.text()
