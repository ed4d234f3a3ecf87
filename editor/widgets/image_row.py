"""A clickable row of decoded images drawn as one ImageItem (created once), with a caption under each cell.
Used by the attribute strip (one vector from alpha -2 to +2) and the condition row (one z, every class)."""
from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QGraphicsRectItem, QVBoxLayout, QWidget

from latent_atlas.editor.core.image_convert import strip
from latent_atlas.editor.widgets.plain_text import tooltip
from latent_atlas.editor.widgets.qt_images import show_uint8

PAD = 1   # pixels of black between cells
SIGNS = "+−"          # a condition row's "+tone-dark" / "−man": the sign is kept when words are dropped
SEPARATORS = "-_ /."   # where a shared prefix may be cut ("tone-" of "tone-light", "tone-dark")


def _clashing(shown: list[str], texts: list[str]) -> list[int]:
    """The cells whose drawn caption (sign aside) is also another cell's while their whole texts differ."""
    by_shown: dict[str, set[str]] = {}
    for s, t in zip(shown, texts):
        by_shown.setdefault(s.lstrip(SIGNS), set()).add(t)
    return [i for i, s in enumerate(shown) if len(by_shown[s.lstrip(SIGNS)]) > 1]


def _split_sign(text: str) -> tuple[str, str]:
    return (text[:1], text[1:]) if text[:1] in SIGNS else ("", text)


def _shared_prefix(texts: list[str]) -> str:
    """The words every text shares at its start, sign aside ("tone-" of "+tone-light", "−tone-dark"), when
    each text has more than that; else ""."""
    bodies = [_split_sign(t)[1] for t in texts]
    prefix = os.path.commonprefix(bodies)
    cut = max(prefix.rfind(c) for c in SEPARATORS) + 1
    return prefix[:cut] if cut and all(len(b) > cut for b in bodies) else ""


def fitted_captions(texts: list[str], elide) -> list[str]:
    """Captions that fit their cells and tell the cells apart. `elide(text, mode)` shortens one text to the
    cell's width. Elided at the right first ("Ankle b…"); where that draws the same caption under cells
    that differ (an emoji CVAE's "+tone-…" under five tones), the prefix they share goes from every caption
    that has it, and where they still clash their middles are elided ("+light", "+m…ht", "−m…rk", "+dark")."""
    right, middle = Qt.TextElideMode.ElideRight, Qt.TextElideMode.ElideMiddle
    shown = [elide(t, right) for t in texts]
    clash = _clashing(shown, texts)
    if not clash:
        return shown
    prefix = _shared_prefix([texts[i] for i in clash])
    short = list(texts)
    for i, t in enumerate(texts):
        sign, body = _split_sign(t)
        if prefix and body.startswith(prefix) and len(body) > len(prefix):
            short[i] = sign + body[len(prefix):]
            shown[i] = elide(short[i], right)
    for i in _clashing(shown, texts):
        shown[i] = elide(short[i], middle)
    return shown


class ImageRow(QWidget):
    clicked = Signal(int)      # the cell under a left click

    def __init__(self, height: int = 78, parent=None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setFixedHeight(height)
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.item)
        self.marker = QGraphicsRectItem()
        self.marker.setPen(pg.mkPen("#ffcc33", width=2, cosmetic=True))
        self.marker.setZValue(10)
        self.marker.hide()
        self.view.addItem(self.marker)
        self._captions: list[pg.TextItem] = []
        self.caption_texts: list[str] = []       # the whole captions; the drawn ones are elided to fit a cell
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.images: np.ndarray | None = None      # (B, H, W, C) uint8 last shown
        self._shape = None
        self.graphics.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self.view.sigTransformChanged.connect(self._fit_captions)     # resized, or its range set

    def set_images(self, images: np.ndarray, captions: list[str] | None = None) -> None:
        """images (B, H, W, C) uint8; captions (B,) drawn under the cells."""
        self.images = images
        show_uint8(self.item, strip(images, PAD))
        b, h, w, _ = images.shape
        if (b, h, w) != self._shape:   # re-layout only when the cell count or size changes
            self._shape = (b, h, w)
            self._make_captions(b, h, w)
            self.view.setRange(xRange=(0, b * (w + PAD) - PAD), yRange=(0, h * 1.3), padding=0.02)
        self.caption_texts = list(captions or [])
        self._fit_captions()

    def _fit_captions(self, *_) -> None:
        """Each caption elided ("Ankle b…") to its cell's width on screen, the whole text in its tooltip:
        a caption wider than its cell was cut at the row's edges ('T-shirt/t', 'Ankle boo')."""
        if self._shape is None:
            return
        w = self._shape[2]
        pixel = self.view.viewPixelSize()[0]
        cell_px = int((w + PAD) / pixel) - 4 if pixel > 0 else 10_000
        if not self._captions:
            return
        metrics = QFontMetrics(self._captions[0].textItem.font())
        texts = self.caption_texts[:len(self._captions)]
        shown = fitted_captions(texts, lambda text, mode: metrics.elidedText(text, mode, max(cell_px, 8)))
        for item, caption, text in zip(self._captions, texts, shown):
            item.setText(text)
            item.setToolTip(tooltip(caption) if text != caption else "")     # a caption is data: a class name

    def _make_captions(self, b: int, h: int, w: int) -> None:
        for text in self._captions:
            self.view.removeItem(text)
        self._captions = []
        for i in range(b):
            text = pg.TextItem("", color="#bbbbbb", anchor=(0.5, 0.0))
            text.setPos(i * (w + PAD) + w / 2, h)
            self.view.addItem(text)
            self._captions.append(text)

    def mark(self, index: int | None) -> None:
        """Outline one cell (the one in use), or none."""
        if index is None or self._shape is None or not 0 <= index < self._shape[0]:
            self.marker.hide()
            return
        _, h, w = self._shape
        self.marker.setRect(index * (w + PAD) - 0.5, -0.5, w + 1, h + 1)
        self.marker.show()

    def clear(self) -> None:
        self.images = None
        self.item.clear()
        self.marker.hide()
        self.caption_texts = []
        for text in self._captions:
            text.setText("")

    def cell_at(self, x: float) -> int:
        if self._shape is None:
            return -1
        b, _, w = self._shape
        i = int(x // (w + PAD))
        return i if 0 <= i < b and x - i * (w + PAD) < w else -1

    def _on_scene_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._shape is None:
            return
        p = self.view.mapSceneToView(event.scenePos())
        i = self.cell_at(p.x())
        if i >= 0 and 0 <= p.y() < self._shape[1]:
            self.clicked.emit(i)
