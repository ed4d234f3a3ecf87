"""One line of status text whose space is reserved: it never wraps, never asks for more width than it has
(a long line is elided, the whole text goes in the tooltip), and keeps its height while hidden or empty, so
the widgets around it hold still when a warning comes and goes."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QSizePolicy

from latent_atlas.editor.widgets.plain_text import PlainLabel, capped, tooltip


class StatusLine(PlainLabel):
    def __init__(self, text: str = "", parent=None, tip: str = ""):
        self._full = ""
        self._tip = tip                   # what the line means, shown in the tooltip under the text
        super().__init__("", parent)
        self.setWordWrap(False)
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self.setText(text)

    def text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:
        text = capped(text)
        if text == self._full and self._full:     # the same line again (each strip of a drag): nothing to redo
            return
        self._full = text
        self._elide()

    def setToolTip(self, text: str) -> None:
        self._tip = text
        self._elide()

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 4, self._line_height())

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self._line_height())

    def _line_height(self) -> int:
        margins = self.contentsMargins()
        return self.fontMetrics().height() + margins.top() + margins.bottom()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)           # a style sheet's font arrives here: the height follows it
        if event.type() in (event.Type.FontChange, event.Type.StyleChange):
            self.updateGeometry()
            self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, width))
        super().setText(shown)
        parts = [self._full] if shown != self._full else []
        if self._tip:
            parts.append(self._tip)
        super().setToolTip(tooltip(" — ".join(parts)) if parts else "")
