"""Prior samples: a grid of decodes of z ~ N(0, T^2 I), with a temperature T and a seed. Click one to edit it.

A CVAE's samples use the state's current condition. One batched decode on the panel's own channel.
"""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget

from latent_atlas.editor.core.messages import DecodeRequest
from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.widgets.plain_text import PlainLabel
from latent_atlas.editor.widgets.status_line import StatusLine
from latent_atlas.editor.widgets.tile_view import TileView

T_MIN, T_MAX, T_STEPS = 0.1, 1.5, 140     # the slider moves in steps of 0.01


def prior_latents(n: int, dim: int, temperature: float, seed: int) -> np.ndarray:
    """(n, dim) float32 draws from N(0, temperature^2 I); the same seed gives the same draws."""
    g = torch.Generator().manual_seed(int(seed))
    return (torch.randn(n, dim, generator=g) * float(temperature)).numpy()


CLICK_HINT = "Click a sample to make it the current image."


def describe_condition(condition: np.ndarray, names: list[str], one_hot: bool) -> str:
    """'Dress' for a one-hot class; 'smiling + glasses' (or 'no attributes') for attributes; one name per
    entry of the condition (LoadedModel.condition_names)."""
    if one_hot:
        return names[int(np.argmax(condition))]
    on = [name for name, value in zip(names, condition) if value >= 0.5]
    return " + ".join(on) if on else "no attributes"


class SamplesPanel(QWidget):
    def __init__(self, state: EditorState, controller, parent=None, rows: int = 4, cols: int = 4):
        super().__init__(parent)
        self._state, self._controller = state, controller
        self.rows, self.cols = rows, cols
        self._grid = controller.channel("samples")
        self.latents: np.ndarray | None = None       # (rows*cols, D) of the grid on screen
        self.condition: np.ndarray | None = None
        self._asked_condition: np.ndarray | None = None   # of the newest request, which may not be shown yet
        self._build()
        state.events.model_changed.connect(self._on_state_model_changed)
        state.events.latent_changed.connect(self._on_state_latent_changed)
        self._grid.result.connect(self._on_grid_decoded)

    def _build(self) -> None:
        self.temperature = QSlider(Qt.Orientation.Horizontal)
        self.temperature.setRange(0, T_STEPS)
        self.temperature.setValue(round((1.0 - T_MIN) / (T_MAX - T_MIN) * T_STEPS))
        self.temperature.setMinimumWidth(120)
        self.temperature_label = PlainLabel()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Random seed: the same seed and temperature give the same samples")
        self.new_button = QPushButton("New samples")
        self.grid = TileView(min_height=140)
        # one line elided to the panel, the whole text in its tooltip: as a plain label the emoji CVAE's
        # "Drawn under the condition tone-medium + woman (Condition tab). Click a sample to…" was cut at the
        # tab's edge and asked the window for its width
        self.hint = hint = StatusLine(CLICK_HINT)
        hint.setStyleSheet("color: #999999;")
        top = QHBoxLayout()
        top.addWidget(PlainLabel("Temperature"))
        top.addWidget(self.temperature, 1)
        top.addWidget(self.temperature_label)
        top.addSpacing(8)
        top.addWidget(PlainLabel("Seed"))
        top.addWidget(self.seed)
        top.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.grid, 1)
        layout.addWidget(hint)
        self.temperature.valueChanged.connect(self.request)
        self.seed.valueChanged.connect(self.request)
        self.new_button.clicked.connect(lambda: self.seed.setValue(self.seed.value() + 1))
        self.grid.tile_clicked.connect(self._on_grid_tile_clicked)
        self._show_temperature()

    def temperature_value(self) -> float:
        return T_MIN + (T_MAX - T_MIN) * self.temperature.value() / T_STEPS

    def set_temperature(self, t: float) -> None:
        self.temperature.setValue(round((t - T_MIN) / (T_MAX - T_MIN) * T_STEPS))

    def _show_temperature(self) -> None:
        self.temperature_label.setText(f"{self.temperature_value():.2f}")

    def request(self) -> None:
        self._show_temperature()
        loaded = self._state.loaded
        if loaded is None:
            return
        z = prior_latents(self.rows * self.cols, loaded.info.latent_dim, self.temperature_value(),
                          self.seed.value())
        condition = None if self._state.condition is None else self._state.condition.copy()
        self._asked_condition = condition
        c = None if condition is None else torch.from_numpy(condition)
        self._grid.submit(DecodeRequest(torch.from_numpy(z), c), (z, condition))

    def _on_grid_decoded(self, result, asked: tuple[np.ndarray, np.ndarray | None]) -> None:
        self.latents, self.condition = asked
        self.grid.set_tiles(result.images, ncols=self.cols)
        loaded = self._state.loaded
        described = None if self.condition is None or loaded is None else describe_condition(
            self.condition, loaded.condition_names, loaded.condition_one_hot)
        self.hint.setText(CLICK_HINT if described is None else
                          f"Drawn under the condition {described} (Condition tab). {CLICK_HINT}")

    def _on_grid_tile_clicked(self, index: int) -> None:
        if self.latents is not None and index < len(self.latents):
            self._controller.set_latent(self.latents[index].copy(), "sample")

    def _on_state_model_changed(self, loaded) -> None:
        self._grid.forget()
        self.latents, self.condition, self._asked_condition = None, None, None
        self.grid.clear()
        self.hint.setText(CLICK_HINT)
        self.request()

    def _on_state_latent_changed(self, state: EditorState) -> None:
        # a CVAE's samples follow the current condition; other latent changes leave the grid alone. Compared
        # with the newest request, not with the grid on screen: a condition set while the first grid is on its
        # way (the editor picks the first image's class on opening) must still be asked for
        if state.condition is not None and (self._asked_condition is None
                                            or not np.array_equal(state.condition, self._asked_condition)):
            self.request()
