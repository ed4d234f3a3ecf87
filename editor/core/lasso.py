"""Lasso selection on the map, Qt-free: which of N map points lie inside a freehand polygon.

The polygon is the mouse path of a drag, closed from its last point back to its first. Inside is decided
by the even-odd rule (a ray from the point crosses the boundary an odd number of times), so a path that
crosses itself selects what a user sees enclosed. Vectorised over points, one pass per polygon edge.
"""
from __future__ import annotations

import numpy as np

MIN_VERTICES = 3


def clean_polygon(points) -> np.ndarray:
    """(M, 2) float64 vertices: non-finite points and repeats of the previous vertex dropped."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    p = p[np.isfinite(p).all(1)]
    if len(p) > 1:
        keep = np.ones(len(p), bool)
        keep[1:] = np.any(np.diff(p, axis=0) != 0, axis=1)
        p = p[keep]
    return p


def points_in_polygon(points: np.ndarray, polygon) -> np.ndarray:
    """Boolean mask (N,): which points (N, 2) lie inside the closed polygon (M, 2) (even-odd rule).
    A polygon of fewer than three distinct vertices encloses nothing."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    poly = clean_polygon(polygon)
    inside = np.zeros(len(pts), bool)
    if len(poly) < MIN_VERTICES or not len(pts):
        return inside
    lo, hi = poly.min(0), poly.max(0)
    candidates = np.flatnonzero(np.all((pts >= lo) & (pts <= hi), axis=1))   # bounding box first
    x, y = pts[candidates, 0], pts[candidates, 1]
    odd = np.zeros(len(candidates), bool)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1):
        if ay == by:
            continue                                  # a horizontal edge never crosses a horizontal ray
        crosses = (ay > y) != (by > y)
        x_cross = ax + (y - ay) * (bx - ax) / (by - ay)
        odd ^= crosses & (x < x_cross)
    inside[candidates] = odd
    return inside


def indices_in_polygon(points: np.ndarray, polygon) -> np.ndarray:
    """Indices (int64) of the points inside the polygon, ascending."""
    return np.flatnonzero(points_in_polygon(points, polygon)).astype(np.int64)
