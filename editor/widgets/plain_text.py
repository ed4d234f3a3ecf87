"""Text from files reaches Qt as plain text, length-capped: never as rich text.

A QLabel, a QMessageBox and a tooltip guess "rich text" from the string (Qt::mightBeRichText), and rich text
loads images: a vector name `<img src='/dev/zero'>` stored in a checkpoint made Qt read /dev/zero until the
process aborted, and one naming a FIFO froze the editor. So every label of the editor is a PlainLabel,
every message box comes from message_box(), every tooltip built from data goes through tooltip(), and
pyqtgraph titles and legends (which are HTML) get html_text(). tests/test_hostile_text.py checks the
sources for widgets made any other way.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

MAX_LABEL_CHARS = 2000       # a label or dialog: error messages with a file name and a reason fit
MAX_TOOLTIP_CHARS = 1000
MAX_TITLE_CHARS = 300        # a plot title or a legend entry


def capped(text, limit: int = MAX_LABEL_CHARS) -> str:
    """str(text) of at most `limit` characters (a 10 MB name once stalled the GUI for 30 s)."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


class PlainLabel(QLabel):
    """A QLabel that shows its text as plain text, whatever the text looks like, capped in length."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:
        super().setText(capped(text))


def tooltip(text, limit: int = MAX_TOOLTIP_CHARS) -> str:
    """A tooltip that shows `text` literally: escaped inside <qt>, so Qt takes it as rich text with no tag
    of its own (left bare, a tooltip holding '<img ...>' would be rendered)."""
    return f"<qt>{html.escape(capped(text, limit))}</qt>"


def html_text(text, limit: int = MAX_TITLE_CHARS) -> str:
    """Escaped text for what pyqtgraph renders as HTML (plot titles, legend entries)."""
    return html.escape(capped(text, limit))


def message_box(icon: QMessageBox.Icon, title: str, text: str, buttons=QMessageBox.StandardButton.Ok,
                parent=None) -> QMessageBox:
    """A QMessageBox whose text is plain text (an error message names files, and a file name is data)."""
    box = QMessageBox(icon, capped(title, 200), "", buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(capped(text))
    return box


def ask(parent, title: str, text: str) -> bool:
    """A Yes / No question in plain text; True for Yes."""
    box = message_box(QMessageBox.Icon.Question, title, text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    return box.exec() == QMessageBox.StandardButton.Yes


def inform(parent, title: str, text: str) -> None:
    message_box(QMessageBox.Icon.Information, title, text, parent=parent).exec()
