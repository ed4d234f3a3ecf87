"""What the File actions may do to the window they sit in, handed to each by the main window: parent their
dialogs, show an error, say something in the status bar. Nothing else of the window reaches them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QStatusBar, QWidget


@dataclass(frozen=True)
class WindowFeedback:
    parent: QWidget                            # parents the dialogs and actions
    show_error: Callable[[str, str], None]     # title, message: a dialog that does not block
    status: QStatusBar                         # showMessage(text, ms) / clearMessage()
