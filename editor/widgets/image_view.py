"""A titled, aspect-locked image display. The ImageItem is created once and updated with setImage."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from latent_atlas.editor.widgets.plain_text import PlainLabel
from latent_atlas.editor.widgets.qt_images import show_uint8
from latent_atlas.editor.widgets.status_line import StatusLine


class ImageView(QWidget):
    def __init__(self, title: str, parent=None, min_size: int = 160):
        super().__init__(parent)
        self.title = PlainLabel(title)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("font-weight: 600;")
        self.caption = StatusLine("")         # one line below the image, never over it
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setStyleSheet("color: #888888; font-size: 9pt;")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumSize(min_size, min_size)
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        self.image: np.ndarray | None = None
        self._shape = None

    def set_image(self, image: np.ndarray, caption: str | None = None) -> None:
        """image (H, W, C) uint8."""
        self.image = image
        show_uint8(self.item, image)
        if image.shape != self._shape:      # refit only when the size changes, not on every decode
            self._shape = image.shape
            self.view.autoRange(padding=0.0)
        if caption is not None:
            self.caption.setText(caption)

    def clear(self, caption: str = "") -> None:
        self.image = None
        self.item.clear()
        self.caption.setText(caption)
