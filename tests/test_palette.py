"""The map's class colours are far apart in CIELAB (issue 15, finding 14: Shirt/Sneaker, Dress/Coat and
ellipse/heart were hard to tell apart in Tableau 10)."""
from __future__ import annotations

import itertools

import numpy as np

from latent_atlas.editor.widgets.palette import CLASS_COLOURS, TAB10, label_colour


def lab(hex_colours: list[str]) -> np.ndarray:
    """sRGB hex -> CIELAB (D65), the textbook formulas."""
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in hex_colours], float) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def closest_pair(colours: list[str]) -> float:
    points = lab(colours)
    return min(np.linalg.norm(points[i] - points[j]) for i, j in itertools.combinations(range(len(colours)), 2))


def test_lab_conversion_has_its_known_values():
    assert np.allclose(lab(["#ffffff", "#000000"]), [[100, 0, 0], [0, 0, 0]], atol=0.1)
    assert np.allclose(lab(["#ff0000"]), [[53.2, 80.1, 67.2]], atol=0.3)


def test_ten_classes_are_at_least_twice_as_far_apart_as_tableau_ten():
    assert closest_pair(TAB10) < 30                       # the old palette: Dress/Coat-like pairs at 26
    assert closest_pair(CLASS_COLOURS[:10]) > 55
    assert closest_pair(CLASS_COLOURS) > 33


def test_every_colour_reads_on_the_black_map():
    lightness = lab(CLASS_COLOURS)[:, 0]
    assert lightness.min() > 55


def test_label_colour_uses_the_palette_then_the_hue_wheel():
    assert label_colour(3, 10).name() == CLASS_COLOURS[3]
    many = {label_colour(i, 40).name() for i in range(40)}
    assert len(many) == 40
