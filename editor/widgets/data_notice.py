"""A non-modal notice for a model whose recorded data was not used: why (in plain text) and a button to
choose the data folder. It never opens a dialog by itself; the folder dialog opens only from the button,
and `ask_folder` is injectable so that tests never block on a modal dialog."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QWidget

from latent_atlas.editor.widgets.status_line import StatusLine


class DataNotice(QWidget):
    folder_chosen = Signal(str)          # the folder the user picked: the caller reloads on its worker

    def __init__(self, parent=None, ask_folder: Callable[[QWidget], str] | None = None):
        super().__init__(parent)
        self.ask_folder = ask_folder or (lambda w: QFileDialog.getExistingDirectory(w, "Choose the data folder"))
        self.label = StatusLine("", tip="the data this model records was not loaded without asking")
        self.button = QPushButton("Choose data folder…")
        self.button.clicked.connect(self._on_button_clicked)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.hide()

    def show_reason(self, reason: str | None) -> None:
        """Shown with `reason` ('... records its data as '/' ...: it is the filesystem root'); None hides it."""
        if not reason:
            self.hide()
            return
        self.label.setText(f"⚠ map of prior samples: {reason}")
        self.show()

    def _on_button_clicked(self) -> None:
        folder = self.ask_folder(self)
        if folder:
            self.folder_chosen.emit(folder)
