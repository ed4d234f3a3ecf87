"""The images above the tool tabs: the decoded image of the current latent, the original beside it (the data
point's image, your own image, or a word on why there is none), and the line under them (|z|, where the
point came from, its map coordinates). A line added later (the density's) goes just under that line."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.widgets.image_view import ImageView
from latent_atlas.editor.widgets.status_line import StatusLine

DATA_POINT = "Original (data point)"


class ImageColumn(QWidget):
    def __init__(self, state: EditorState, parent=None):
        super().__init__(parent)
        self._state = state
        self._first_image_of: str | None = None  # the file whose early first image is on screen (cold start)
        self.decoded_view = ImageView("Decoded", min_size=220)
        self.original_view = ImageView(DATA_POINT, min_size=220)
        images = QWidget()
        iv = QHBoxLayout(images)
        iv.setContentsMargins(0, 0, 0, 0)
        iv.addWidget(self.decoded_view)
        iv.addWidget(self.original_view)
        self.info = StatusLine("")
        self.info.setStyleSheet("color: #aaaaaa; font-size: 9pt;")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(images, 1)
        self._layout.addWidget(self.info)
        state.events.decoded.connect(self._on_state_decoded)
        state.events.latent_changed.connect(self._on_state_latent_changed)
        # the state moved the point onto the new map: its line says the new coordinates
        state.events.projection_changed.connect(lambda _embedding: self._on_state_latent_changed(state))

    def add_line(self, widget: QWidget) -> None:
        """A line under the info line (the density's), built by the window once the panels are."""
        self._layout.insertWidget(self._layout.indexOf(self.info) + 1, widget)

    def show_first_image(self, first) -> None:
        """A cold start's first view while the rest of the data is encoded: the same image, reconstruction
        and caption the loaded model then shows (loaded_model.FirstImage)."""
        self._first_image_of = str(first.path)
        self.decoded_view.set_image(first.image)
        self.original_view.title.setText(DATA_POINT)
        self.original_view.set_image(first.original, first.caption)

    def model_loaded(self, loaded) -> None:
        """The original is shown only where the model can encode; the images of the model before go, unless
        they are this model's early first image (the one the view shows next)."""
        self.original_view.setVisible(loaded.info.can_encode)
        if self._first_image_of != str(loaded.path):
            self.original_view.clear()
            self.decoded_view.clear()
        self._first_image_of = None

    def _on_state_decoded(self, result) -> None:
        self.decoded_view.set_image(result.images[0], f"{result.elapsed_ms:.1f} ms")

    def _on_state_latent_changed(self, state: EditorState) -> None:
        point = state.current
        if point is None:
            return
        loaded = state.loaded
        if point.data_index is not None and loaded is not None and loaded.info.can_encode:
            i = point.data_index
            label = ""
            if loaded.labels is not None and 0 <= loaded.labels[i] < len(loaded.label_names):
                label = loaded.label_names[loaded.labels[i]]
            self.original_view.title.setText(DATA_POINT)
            self.original_view.set_image(loaded.images[i], f"#{i} {label}")
        elif point.source == "image":
            self.original_view.title.setText("Your image")     # files/own_image.py puts the picture here
        else:                                                  # no original to show: say so, keep nothing old
            self.original_view.title.setText(DATA_POINT)
            self.original_view.clear(f"none: not a data point ({point.source})")
        z = state.latent()
        source = point.source
        if source == "data" and loaded is not None and not loaded.info.can_encode:
            source = "map sample"              # a GAN's map holds prior samples, not encoded data
        self.info.setText(f"|z| = {np.linalg.norm(z):.2f} · source: {source}"
                          + (f" · map ({point.cursor[0]:.2f}, {point.cursor[1]:.2f})" if point.cursor else ""))
