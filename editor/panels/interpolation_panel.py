"""Interpolation: drag on the map from one point to another and a strip of N frames follows the drag live.

The endpoints are a data point's own latent when the press/release is on one, else the projection's
inverse. A path can also run through the current image (Set A, Set B, Add waypoint). Each update is ONE
batched decode on the panel's own channel; the decode worker keeps only the newest, so a drag never queues up.
The path's waypoints are the state's (`state.waypoints`, kept per model): a model that comes back brings
its strip.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latent_atlas.editor.core.density import WARN_COLOUR, describe_off_frames
from latent_atlas.editor.core.export import GIF_FRAME_MS, export_gif, export_png
from latent_atlas.editor.core.image_convert import strip
from latent_atlas.editor.core.messages import DecodeRequest, OffDataRequest
from latent_atlas.editor.core.recipe import make_recipe
from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.core.strip import (
    MAX_FRAMES,
    MODES,
    endpoint_latent,
    strip_latents,
    waypoints_from_json,
)
from latent_atlas.editor.widgets.frame_pacer import FramePacer
from latent_atlas.editor.widgets.plain_text import PlainLabel
from latent_atlas.editor.widgets.save_places import remember, start_path
from latent_atlas.editor.widgets.status_line import StatusLine
from latent_atlas.editor.widgets.tile_view import TileView
from latent_atlas.models.errors import LatentAtlasError

EXPORT_HEIGHT = 128     # exported frames are scaled up to at least this many pixels high


class InterpolationPanel(QWidget):
    error = Signal(str, str)          # title, message: the window shows it in a dialog

    def __init__(self, state: EditorState, controller, latent_map, parent=None):
        super().__init__(parent)
        self._state, self._controller, self._map = state, controller, latent_map
        self.channel = controller.channel("strip")               # answers carry (frames, condition)
        self._off_channel = controller.channel("strip off the data")
        self.frames: np.ndarray | None = None        # (N, D) latents of the strip on screen
        self.condition: np.ndarray | None = None     # the condition it was decoded with (CVAE)
        self._asked_condition: np.ndarray | None = None   # of the newest request, which may not be shown yet
        self.images: np.ndarray | None = None        # (N, H, W, C) uint8 on screen
        self.off_data: np.ndarray | None = None      # (N,) bool: frames farther from the data than it spreads
        # the path on the map is redrawn at most once a display frame; None: the strip on screen's frames
        self._path_frames: np.ndarray | None = None
        self._path_pacer = FramePacer(self._draw_path, self)
        self._build()
        state.events.model_changed.connect(self._on_state_model_changed)
        state.events.latent_changed.connect(self._on_state_latent_changed)
        state.events.projection_changed.connect(lambda _embedding: self._redraw_path())
        self.channel.result.connect(self._on_strip_decoded)
        self._off_channel.result.connect(self._on_off_data_answered)
        view = latent_map.view
        view.drag_started.connect(self._on_map_drag_started)
        view.dragged.connect(self._on_map_dragged)
        view.drag_finished.connect(self._on_map_drag_finished)

    def _build(self) -> None:
        self.n_frames = QSpinBox()
        self.n_frames.setRange(2, MAX_FRAMES)
        self.n_frames.setValue(8)
        self.n_frames.setToolTip("Frames in the strip")
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.setToolTip("slerp keeps the latent's norm (typicality under the prior); lerp is a straight line")
        self.set_a_button = QPushButton("Set A = current")
        self.set_b_button = QPushButton("Set B = current")
        self.add_button = QPushButton("Add waypoint = current")
        self.clear_button = QPushButton("Clear")
        self.png_button = QPushButton("Export PNG…")
        self.gif_button = QPushButton("Export GIF…")
        self.strip_view = TileView(min_height=70)
        self.strip_view.set_placeholder("The strip between two images appears here: drag on the map from one image "
                                        "to another, or set A and B from the current image.")
        self.status = StatusLine("Drag on the map (left button) from one point to another.")
        self.status.setStyleSheet("color: #999999;")
        self.warning = StatusLine("")
        self.warning.setStyleSheet(f"color: {WARN_COLOUR};")
        self.warning.setToolTip("a frame leaves the data when its latent is farther from the nearest data latent "
                                "than 99% of the data are from theirs: expect an unlike image there")
        self.warning.hide()
        top = QHBoxLayout()
        top.addWidget(PlainLabel("Frames"))
        top.addWidget(self.n_frames)
        top.addWidget(self.mode)
        top.addStretch(1)
        path_row = QHBoxLayout()          # a row of its own: one row of everything set the window's width
        for b in (self.set_a_button, self.set_b_button, self.add_button, self.clear_button):
            path_row.addWidget(b)
        path_row.addStretch(1)
        bottom = QHBoxLayout()
        # the line takes the row's room: a StatusLine ignores its text's width, so without a stretch it got
        # none beside the stretched warning and "Exported …" or the path's description never showed
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.png_button)
        bottom.addWidget(self.gif_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(path_row)
        layout.addWidget(self.warning)       # a line of its own, kept while hidden: the strip holds still
        layout.addWidget(self.strip_view, 1)
        layout.addLayout(bottom)
        self.n_frames.valueChanged.connect(self.request)
        self.mode.currentTextChanged.connect(self.request)
        self.set_a_button.clicked.connect(lambda: self._from_current(self.waypoints.set_a))
        self.set_b_button.clicked.connect(lambda: self._from_current(self.waypoints.set_b))
        self.add_button.clicked.connect(lambda: self._from_current(self.waypoints.add))
        self.clear_button.clicked.connect(self.clear)
        self.png_button.clicked.connect(lambda: self._export_dialog("png"))
        self.gif_button.clicked.connect(lambda: self._export_dialog("gif"))
        self.strip_view.tile_clicked.connect(self._on_strip_tile_clicked)
        self._update_buttons()

    # -- the path -------------------------------------------------------------------------------------
    def _endpoint(self, x: float, y: float) -> np.ndarray | None:
        loaded = self._state.loaded
        if loaded is None or loaded.projection is None:
            return None
        return endpoint_latent(loaded, x, y, self._map.nearest(x, y))

    def _on_map_drag_started(self, x: float, y: float) -> None:
        z = self._endpoint(x, y)
        if z is not None:
            self.waypoints.clear()
            self.waypoints.set_a(z)

    def _on_map_dragged(self, x: float, y: float) -> None:
        if not len(self.waypoints):
            return
        z = self._endpoint(x, y)
        if z is not None:
            self.waypoints.set_end(z)
            self.request()

    def _on_map_drag_finished(self, x: float, y: float) -> None:
        self._on_map_dragged(x, y)
        self._path_pacer.flush()           # where the drag ended is drawn now, not a frame later

    def _from_current(self, setter) -> None:
        z = self._state.latent()
        if z is not None:
            setter(z)
            self.request()

    @property
    def waypoints(self):
        return self._state.waypoints

    def clear(self) -> None:
        self.waypoints.clear()
        self._forget_strip()

    def _forget_strip(self) -> None:
        """Takes the strip on screen away; the path stays."""
        self.channel.forget()
        self._off_channel.forget()
        self.frames = self.images = self.off_data = self._asked_condition = None
        self.warning.hide()
        self.strip_view.clear()
        self._path_pacer.cancel()          # a redraw still due would bring the path back
        self._map.set_path(None)
        self._update_buttons()

    def request(self) -> None:
        """Sends the strip for the current path as one batched decode (the newest replaces any pending)."""
        self._update_buttons()
        loaded = self._state.loaded
        if loaded is None or not self.waypoints.ready():
            return
        frames = strip_latents(self.waypoints.points, self.n_frames.value(), self.mode.currentText())
        self._redraw_path(frames)
        condition = None if self._state.condition is None else self._state.condition.copy()
        c = None if condition is None else torch.from_numpy(condition)
        self.channel.submit(DecodeRequest(torch.from_numpy(frames), c), (frames, condition))
        self._asked_condition = condition

    def _redraw_path(self, frames: np.ndarray | None = None) -> None:
        """Redraws the path through `frames` (None: the strip on screen) within a display frame: a drag's
        moves between two frames of the screen draw once, the newest."""
        self._path_frames = frames
        self._path_pacer.request()

    def _draw_path(self) -> None:
        """The frames' latents projected onto the map (a slerp path bends there); frames off the data in
        orange once they are known."""
        frames = self._path_frames
        shown = frames is None
        frames = self.frames if frames is None else frames
        loaded = self._state.loaded
        if frames is not None and loaded is not None and loaded.projection is not None:
            off = self.off_data if shown and self.off_data is not None and len(self.off_data) == len(frames) \
                else None
            self._map.set_path(loaded.projection.transform(frames), off, WARN_COLOUR)

    # -- session hook ---------------------------------------------------------------------------------
    def panel_state(self) -> dict:
        """The path's waypoints (latents), the frame count and the mode: the strip a session reopens."""
        return {"waypoints": [np.asarray(z, np.float64).tolist() for z in self.waypoints.points],
                "frames": self.n_frames.value(), "mode": self.mode.currentText()}

    def restore_panel_state(self, saved: dict) -> None:
        """Restores what fits this model; anything malformed is ignored rather than half applied."""
        loaded = self._state.loaded
        if not isinstance(saved, dict) or loaded is None:
            return
        points = waypoints_from_json(saved.get("waypoints"), loaded.info.latent_dim)
        if points is None:
            return
        frames, mode = saved.get("frames"), saved.get("mode")
        if isinstance(frames, int) and 2 <= frames <= MAX_FRAMES:
            self.n_frames.blockSignals(True)
            self.n_frames.setValue(frames)
            self.n_frames.blockSignals(False)
        if mode in MODES:
            self.mode.blockSignals(True)
            self.mode.setCurrentText(mode)
            self.mode.blockSignals(False)
        self.clear()
        self.waypoints.points = points
        self.request()

    # -- results --------------------------------------------------------------------------------------
    def _on_strip_decoded(self, result, asked: tuple[np.ndarray, np.ndarray | None]) -> None:
        self.frames, self.condition = asked
        self.images = result.images
        self.off_data = None
        self.strip_view.set_tiles(result.images, ncols=len(result.images))
        self._update_buttons()
        self._check_off_data()

    def _check_off_data(self) -> None:
        """Asks the decode worker which frames of the strip on screen leave the data."""
        loaded = self._state.loaded
        if loaded is None or self.frames is None:
            return
        self._off_channel.forget()       # an answer still on its way is about the strip this one replaced
        self._off_channel.submit(OffDataRequest(self.frames.copy(), loaded.off_data))

    def _on_off_data_answered(self, result, _context) -> None:
        self.off_data = np.asarray(result, bool)
        text = describe_off_frames(self.off_data)
        self.warning.setText("⚠ " + text if text else "")
        self.warning.setVisible(bool(text))
        self._redraw_path()

    def _on_strip_tile_clicked(self, index: int) -> None:
        if self.frames is not None and index < len(self.frames):
            self._controller.set_latent(self.frames[index].copy(), "strip")

    def _on_state_model_changed(self, loaded) -> None:
        self._forget_strip()
        self.request()          # the path this model had when it was last open, if any

    def _on_state_latent_changed(self, state: EditorState) -> None:
        # a CVAE's strip follows the condition; moving the current point alone changes nothing here. Compared
        # with the newest request, which may still be on its way, not with the strip on screen
        asked = self._asked_condition
        if asked is not None and state.condition is not None and not np.array_equal(state.condition, asked):
            self.request()

    def _update_buttons(self) -> None:
        has_model = self._state.loaded is not None
        for b in (self.set_a_button, self.set_b_button, self.add_button):
            b.setEnabled(has_model)
        for b in (self.png_button, self.gif_button):
            b.setEnabled(self.images is not None)
        self.status.setText(self.waypoints.describe() if has_model else "Open a model first.")

    # -- export ---------------------------------------------------------------------------------------
    def _recipe(self, gif: dict | None = None) -> dict:
        loaded = self._state.loaded
        return make_recipe(loaded.path, self.frames[0], self.condition, frames=self.frames,
                           scale=self._scale(), note=f"interpolation strip, {len(self.frames)} frames, "
                                                      f"{self.mode.currentText()}", module=loaded.origin, gif=gif)

    def _scale(self) -> int:
        return max(1, min(16, math.ceil(EXPORT_HEIGHT / self.images.shape[1])))

    def export_png(self, path) -> Path:
        """The strip as one PNG (frames side by side), a recipe with every frame's latent beside it."""
        return export_png(path, strip(self.images), scale=self._scale(), recipe=self._recipe(),
                          protected=[self._state.loaded.path])

    def export_gif(self, path, frame_ms: int = GIF_FRAME_MS) -> Path:
        """The frames as an animated GIF that loops forth and back."""
        return export_gif(path, self.images, scale=self._scale(), frame_ms=frame_ms,
                          recipe=self._recipe({"frame_ms": frame_ms, "bounce": True}),
                          protected=[self._state.loaded.path])

    def _export_dialog(self, kind: str) -> None:
        if self.images is None:
            return
        name, filt = ("strip.png", "PNG image (*.png)") if kind == "png" else ("strip.gif", "GIF animation (*.gif)")
        path, _ = QFileDialog.getSaveFileName(self, "Export strip", start_path(name), filt)
        if not path:
            return
        remember(path)
        try:
            out = self.export_png(path) if kind == "png" else self.export_gif(path)
        except (LatentAtlasError, OSError) as e:
            self.error.emit("Export failed", str(e))
            return
        self.status.setText(f"Exported {out}")
