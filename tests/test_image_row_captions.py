"""Captions under a row of images fit their cells (issue 15, finding 14: 'T-shirt/t' and 'Ankle boo' were
cut at the row's edges); the whole caption is in the tooltip."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

from latent_atlas.editor.widgets.image_row import ImageRow, fitted_captions
from latent_atlas.editor.widgets.plain_text import tooltip


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
            assert text.endswith("…") and name.startswith(text[:-1]) and item.toolTip() == tooltip(name)
    assert drawn[0] != "T-shirt/top" and drawn[-1] != "Ankle boot", "these two do not fit 1/10 of 560 px"
    pixel = row.view.viewPixelSize()[0]
    for item in row._captions:                      # no text wider than its cell: neighbours never touch
        width = QFontMetrics(item.textItem.font()).horizontalAdvance(item.textItem.toPlainText())
        assert width <= (28 + 1) / pixel
    row.resize(300, 90)                             # narrower: the captions are elided again, shorter
    qtbot.waitUntil(lambda: len(row._captions[1].textItem.toPlainText()) < len("Trouser"), timeout=3000)
    assert row._captions[1].toolTip() == tooltip("Trouser")


def shown_row(qtbot, captions, width=440):
    row = ImageRow()
    qtbot.addWidget(row)
    row.resize(width, 90)
    row.show()
    qtbot.waitExposed(row)
    row.set_images(np.zeros((len(captions), 64, 64, 3), np.uint8), captions)
    qtbot.wait(50)
    row._fit_captions()
    return row, [item.textItem.toPlainText() for item in row._captions]


def test_captions_that_share_a_start_are_told_apart(qtbot):
    """Xvfb walk on the emoji CVAE: its row drew "+tone-…" under four cells of five skin tones (the part
    that differs was elided away). Now every cell's caption differs from the others (sign aside), fits its
    cell, and the tooltip holds the whole text."""
    names = ["+tone-light", "+tone-medium-light", "+tone-medium", "−tone-medium-dark", "+tone-dark", "−man",
             "+woman", "+person"]
    row, drawn = shown_row(qtbot, names)
    bare = [t.lstrip("+−") for t in drawn]
    assert len(set(bare)) == len(names), drawn
    assert drawn[5] == "−man"                                      # a short name is left whole
    assert all(t[0] == n[0] for t, n in zip(drawn, names)), "the sign stays in front"
    pixel = row.view.viewPixelSize()[0]
    for name, item in zip(names, row._captions):
        text = item.textItem.toPlainText()
        assert QFontMetrics(item.textItem.font()).horizontalAdvance(text) <= (64 + 1) / pixel
        assert item.toolTip() == (tooltip(name) if text != name else "")


def test_a_caption_from_data_reaches_its_tooltip_as_plain_text(qtbot):
    hostile = "<img src='/dev/zero'> a class name"
    row, drawn = shown_row(qtbot, [hostile, "Coat"], width=120)
    assert drawn[0] != hostile and row._captions[0].toolTip() == tooltip(hostile)


def by_characters(n):
    """An elide function of n characters (as QFontMetrics.elidedText is of pixels), for exact expectations."""
    def elide(text, mode):
        if len(text) <= n:
            return text
        if mode == Qt.TextElideMode.ElideRight:
            return text[:n - 1] + "…"
        head = (n - 1) // 2 + (n - 1) % 2
        return text[:head] + "…" + text[len(text) - (n - 1 - head):]
    return elide


def test_a_prefix_is_dropped_from_every_caption_that_has_it():
    """Under Xvfb "+tone-light" still fitted as "+tone-l…" beside "+dark": the prefix went only from the
    captions that clashed. It goes from every tone now, and only where they clash are middles elided."""
    names = ["+tone-light", "+tone-medium-light", "+tone-medium", "−tone-medium-dark", "+tone-dark", "−man",
             "+woman", "+person"]
    assert fitted_captions(names, by_characters(8)) == ["+light", "+med…ght", "+medium", "−med…ark", "+dark",
                                                        "−man", "+woman", "+person"]
    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    assert fitted_captions(fashion, by_characters(8)) == ["T-shirt…", "Trouser", "Pullover", "Dress", "Coat",
                                                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle b…"]
