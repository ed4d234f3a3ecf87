"""A small table of cosine similarities between attribute vectors: near 0 means independent edits,
near ±1 means two sliders move the image the same way.

Columns are numbered and rows say "1  name": eleven vectors named "Ankle boot (mean difference)" squeezed
into a 360-pixel table drew every cell as "-..." under headers cut to "le b" and "(me". A column is never
narrower than "+0.00" (the table scrolls instead); every header holds its vector's whole name in its
tooltip."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from latent_atlas.editor.core.attributes import cosine_table
from latent_atlas.editor.widgets.plain_text import tooltip

SHORT_NAME = 16   # characters of a vector's name in a row's header
MAX_TABLE_VECTORS = 40   # beyond this a K x K table is neither readable nor cheap to build


class CosineTable(QTableWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setToolTip("cosine similarity between vectors: 0 = independent, ±1 = the same direction")
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # stretched to the table's width while that leaves each "+0.00" its room, never narrower (it scrolls)
        self.horizontalHeader().setMinimumSectionSize(self.fontMetrics().horizontalAdvance("−0.00") + 12)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setMinimumHeight(70)
        self.values = np.zeros((0, 0), np.float32)

    def set_vectors(self, names: list[str], vectors: list[np.ndarray]) -> None:
        k = len(names)
        if k > MAX_TABLE_VECTORS:     # K x K items: 1,000 vectors made a million and froze the GUI thread
            self.values = np.zeros((0, 0), np.float32)
            self.setRowCount(1)
            self.setColumnCount(1)
            self.setHorizontalHeaderLabels([""])
            self.setVerticalHeaderLabels([""])
            item = QTableWidgetItem(f"{k} vectors: the cosine table is shown for at most {MAX_TABLE_VECTORS}; "
                                    "remove some to compare them")
            self.setItem(0, 0, item)
            return
        self.values = cosine_table(vectors)
        short = [n if len(n) <= SHORT_NAME else n[:SHORT_NAME - 1] + "…" for n in names]
        self.setRowCount(k)
        self.setColumnCount(k)
        for i, name in enumerate(names):
            column = QTableWidgetItem(str(i + 1))
            column.setToolTip(tooltip(f"{i + 1}: {name}"))
            self.setHorizontalHeaderItem(i, column)
            row = QTableWidgetItem(f"{i + 1}  {short[i]}")
            row.setToolTip(tooltip(f"{i + 1}: {name}"))
            self.setVerticalHeaderItem(i, row)
        for i in range(k):
            for j in range(k):
                v = float(self.values[i, j])
                item = QTableWidgetItem(f"{v:+.2f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setToolTip(tooltip(f"cos({names[i]}, {names[j]}) = {v:+.2f}"))
                if i != j:   # shade by |cos|: red for aligned, blue for opposed
                    colour = QColor(200, 60, 60) if v > 0 else QColor(60, 90, 200)
                    colour.setAlpha(int(170 * min(1.0, abs(v))))
                    item.setBackground(QBrush(colour))
                self.setItem(i, j, item)
