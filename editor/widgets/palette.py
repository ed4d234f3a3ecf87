"""Colours for labels on the map: a qualitative palette that reads on a dark background."""
from __future__ import annotations

import pyqtgraph as pg

# Tableau 10, then pyqtgraph's hue wheel for more classes
TAB10 = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
         "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]


def label_colour(i: int, n: int):
    if n <= len(TAB10):
        return pg.mkColor(TAB10[i])
    return pg.intColor(i, hues=n, values=1, maxValue=255, minValue=150)
