"""The lasso's geometry, Qt-free: which map points a freehand outline encloses (even-odd rule)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from latent_atlas.editor.core.lasso import clean_polygon, indices_in_polygon, points_in_polygon

SQUARE = [(0, 0), (2, 0), (2, 2), (0, 2)]


def test_a_square_holds_what_is_inside_and_nothing_outside():
    pts = np.array([[1, 1], [0.5, 1.9], [3, 1], [-0.1, 1], [1, 2.5], [1, -1]])
    assert points_in_polygon(pts, SQUARE).tolist() == [True, True, False, False, False, False]


def test_an_open_mouse_path_is_closed_from_its_last_point_to_its_first():
    # three sides of a square, as a drag that stops short of where it began
    assert points_in_polygon(np.array([[1.0, 1.0]]), [(0, 0), (2, 0), (2, 2), (0, 2)])[0]
    assert points_in_polygon(np.array([[1.0, 1.0]]), [(0, 0), (2, 0), (2, 2), (0, 2), (0, 0)])[0]


def test_a_concave_outline_leaves_out_its_notch():
    c_shape = [(0, 0), (3, 0), (3, 1), (1, 1), (1, 2), (3, 2), (3, 3), (0, 3)]
    pts = np.array([[0.5, 1.5], [2, 1.5], [2, 0.5], [2, 2.5]])
    assert points_in_polygon(pts, c_shape).tolist() == [True, False, True, True]


def test_a_self_crossing_outline_follows_the_even_odd_rule():
    # a pentagram drawn in one stroke: the five points are inside, the central pentagon is crossed twice
    angles = np.pi / 2 + np.arange(5) * 4 * np.pi / 5
    star = np.stack([np.cos(angles), np.sin(angles)], 1)
    tip = 0.8 * star[0]
    assert points_in_polygon(np.array([tip, [0.0, 0.0], [0.0, -0.99]]), star).tolist() == [True, False, False]


def test_degenerate_outlines_enclose_nothing():
    pts = np.random.default_rng(0).normal(size=(100, 2))
    for poly in ([], [(0, 0)], [(0, 0), (1, 1)], [(0, 0), (0, 0), (1, 1), (1, 1)], [(0, 0), (1, 1), (2, 2)]):
        assert not points_in_polygon(pts, poly).any()


def test_non_finite_vertices_and_repeats_are_dropped():
    poly = [(0, 0), (0, 0), (np.nan, 1), (2, 0), (2, 2), (np.inf, 0), (0, 2)]
    assert clean_polygon(poly).tolist() == [[0, 0], [2, 0], [2, 2], [0, 2]]
    assert indices_in_polygon(np.array([[5.0, 5.0], [1.0, 1.0], [np.nan, 1.0]]), poly).tolist() == [1]


@settings(max_examples=200, deadline=None)
@given(st.integers(3, 12), st.integers(0, 2**31 - 1))
def test_convex_polygons_agree_with_half_plane_tests(n, seed):
    """For a convex polygon, inside = on the inner side of every edge (an independent test)."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    if np.diff(np.r_[angles, angles[0] + 2 * np.pi]).max() >= np.pi:
        return                                    # the origin would not be inside: not a useful case
    poly = np.stack([np.cos(angles), np.sin(angles)], 1) * rng.uniform(0.5, 3)
    pts = rng.uniform(-3.5, 3.5, (500, 2))
    edges = np.roll(poly, -1, 0) - poly
    cross = edges[:, 0][None] * (pts[:, 1][:, None] - poly[:, 1][None]) \
        - edges[:, 1][None] * (pts[:, 0][:, None] - poly[:, 0][None])   # (N, M), > 0 left of each edge
    margin = np.abs(cross).min(1) > 1e-9                                   # skip points on an edge
    expected = (cross > 0).all(1)
    np.testing.assert_array_equal(points_in_polygon(pts, poly)[margin], expected[margin])


def test_sixty_thousand_points_and_a_long_stroke():
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(60_000, 2))
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], 1)
    inside = points_in_polygon(pts, circle)
    r = np.hypot(pts[:, 0], pts[:, 1])
    assert inside[r < 0.999].all() and not inside[r > 1.0].any()
