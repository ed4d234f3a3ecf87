"""Colours for labels on the map: a categorical palette chosen for distinctness on the map's black
background, then pyqtgraph's hue wheel beyond its 20 colours.

CLASS_COLOURS was picked by greedy max-min distance in CIELAB (sRGB on a 15-step grid, lightness 55-88,
chroma over 25, the start that maximised the first ten's smallest distance): any two of the first ten
are at least 56 CIE76 units apart (Tableau 10, used before: 26, with Dress/Coat, Shirt/Sneaker and
ellipse/heart the pairs people mixed up, issue 15 finding 14); any two of all twenty at least 33.
tests/test_palette.py measures both. The line colours of the loss plots stay Tableau 10 (TAB10).
"""
from __future__ import annotations

import pyqtgraph as pg

CLASS_COLOURS = ["#c3a569", "#e100ff", "#00ff00", "#0096f0", "#ff1e69", "#00f0e1", "#ff6900", "#d2e100",
                 "#ff96f0", "#1ea53c", "#c36978", "#9669ff", "#ff00b4", "#ffb400", "#3c96a5", "#b4a5d2",
                 "#b4e187", "#879600", "#4b9669", "#f0875a"]
TAB10 = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
         "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]


def label_colour(i: int, n: int):
    if n <= len(CLASS_COLOURS):
        return pg.mkColor(CLASS_COLOURS[i])
    return pg.intColor(i, hues=n, values=1, maxValue=255, minValue=150)
