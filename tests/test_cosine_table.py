"""The cosine table stays readable with many vectors (Xvfb walk: the bundled Fashion VAE's ten "… (mean
difference)" vectors plus one more drew every cell as "-..." under headers cut to "le b" and "(me")."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QFontMetrics

from latent_atlas.editor.panels.cosine_table import CosineTable
from latent_atlas.editor.widgets.plain_text import tooltip

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def shown_table(qtbot, names, width):
    table = CosineTable()
    qtbot.addWidget(table)
    table.resize(width, 160)
    table.show()
    qtbot.waitExposed(table)
    vectors = list(np.random.default_rng(0).standard_normal((len(names), 16)).astype(np.float32))
    table.set_vectors(names, vectors)
    qtbot.wait(20)
    return table


def test_every_cell_of_eleven_vectors_is_readable_in_a_narrow_table(qtbot):
    names = [f"{c} (mean difference)" for c in CLASSES] + ["PC1"]
    table = shown_table(qtbot, names, 360)
    metrics = QFontMetrics(table.font())
    for j in range(len(names)):
        widest = max(metrics.horizontalAdvance(table.item(i, j).text()) for i in range(len(names)))
        assert table.columnWidth(j) >= widest + 6, (j, table.columnWidth(j), widest)
    assert table.horizontalScrollBar().maximum() > 0, "too wide for 360 px: it scrolls rather than squeezes"
    assert [table.horizontalHeaderItem(j).text() for j in range(len(names))] == [str(j + 1) for j in range(11)]
    assert table.verticalHeaderItem(0).text() == "1  T-shirt/top (me…"
    assert table.horizontalHeaderItem(9).toolTip() == tooltip("10: Ankle boot (mean difference)")
    assert table.item(1, 10).toolTip() == tooltip(f"cos(Trouser (mean difference), PC1) = {table.values[1, 10]:+.2f}")


def test_a_few_vectors_still_fill_the_table(qtbot):
    # negative control for the minimum width: three columns stretch to the whole width, no scrolling
    table = shown_table(qtbot, ["a", "b", "c"], 400)
    assert table.horizontalScrollBar().maximum() == 0
    assert sum(table.columnWidth(j) for j in range(3)) >= table.viewport().width() - 2
