"""Captions under a row of images fit their cells (issue 15, finding 14: 'T-shirt/t' and 'Ankle boo' were
cut at the row's edges); the whole caption is in the tooltip."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QFontMetrics

from latent_atlas.editor.widgets.image_row import ImageRow


def test_long_captions_are_elided_with_their_whole_text_in_the_tooltip(qtbot):
    row = ImageRow()
    qtbot.addWidget(row)
    row.resize(560, 90)
    row.show()
    qtbot.waitExposed(row)
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
             "Ankle boot"]
    row.set_images(np.zeros((10, 28, 28, 1), np.uint8), names)
    qtbot.wait(50)
    row._fit_captions()
    drawn = [item.textItem.toPlainText() for item in row._captions]
    assert drawn[1] == "Trouser" and row._captions[1].toolTip() == ""
    for name, text, item in zip(names, drawn, row._captions, strict=True):
        if text != name:
            assert text.endswith("…") and name.startswith(text[:-1]) and item.toolTip() == name
    assert drawn[0] != "T-shirt/top" and drawn[-1] != "Ankle boot", "these two do not fit 1/10 of 560 px"
    pixel = row.view.viewPixelSize()[0]
    for item in row._captions:                      # no text wider than its cell: neighbours never touch
        width = QFontMetrics(item.textItem.font()).horizontalAdvance(item.textItem.toPlainText())
        assert width <= (28 + 1) / pixel
    row.resize(300, 90)                             # narrower: the captions are elided again, shorter
    qtbot.waitUntil(lambda: len(row._captions[1].textItem.toPlainText()) < len("Trouser"), timeout=3000)
    assert row._captions[1].toolTip() == "Trouser"
