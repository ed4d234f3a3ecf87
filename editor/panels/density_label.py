"""A line under the images: how likely the current image is (ELBO and importance-weighted log p for a VAE,
realness for a GAN), and an orange warning when the current latent leaves the data.

The numbers come from the decode worker (a DensityRequest on the label's own channel), asked for a moment
after the latent stops changing, so a drag across the map does not keep the worker busy with them.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from latent_atlas.editor.core.density import WARN_COLOUR, Density, OffDataCheck, describe, discriminator_note
from latent_atlas.editor.core.messages import DensityRequest
from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.widgets.status_line import StatusLine

SETTLE_MS = 120      # wait for the latent to rest this long before asking


class DensityLabel(QWidget):
    def __init__(self, state: EditorState, controller, parent=None):
        super().__init__(parent)
        self._state, self._controller = state, controller
        self._off: OffDataCheck | None = None
        self._note = ""
        self._channel = controller.channel("density")
        self.density: Density | None = None          # the numbers on screen
        # one line each, their space kept while empty or hidden: the tabs below never move (issue 15)
        self.numbers = StatusLine("")
        self.numbers.setStyleSheet("color: #aaaaaa; font-size: 9pt;")
        self.warning = StatusLine("")
        self.warning.setStyleSheet(f"color: {WARN_COLOUR}; font-weight: 600; font-size: 9pt;")
        self.warning.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.numbers)
        layout.addWidget(self.warning)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.request)
        state.events.model_changed.connect(self._on_state_model_changed)
        state.events.latent_changed.connect(lambda _state: self._timer.start())
        self._channel.result.connect(self._on_density_answered)
        self._channel.failed.connect(self._on_density_failed)

    def _on_state_model_changed(self, loaded) -> None:
        # the threshold is computed on the worker at the first request, never on the GUI thread
        self._off = loaded.off_data
        self._note = discriminator_note(loaded.checkpoint.dataset)
        self.density = None
        self.numbers.setText("")
        self.warning.hide()

    def request(self) -> None:
        z = self._state.latent()
        if self._state.loaded is None or z is None:
            return
        condition = None if self._state.condition is None else self._state.condition.copy()
        self._channel.submit(DensityRequest(z, condition, self._off, self._note))

    def _on_density_answered(self, result, _context) -> None:
        if result is None:
            self._timer.start()      # it gave way to a click or a strip: ask again once the worker is quiet
            return
        self.density = result
        text, warning = describe(result)
        self.numbers.setText(text)
        self.warning.setText("⚠ " + warning if warning else "")
        self.warning.setVisible(bool(warning))

    def _on_density_failed(self, message: str) -> None:
        self.numbers.setText(f"density unavailable: {message}")
        self.warning.hide()

