"""The map's level of detail: a subsample drawn zoomed out, every point in view zoomed in; hover, click and
the lasso still find the points that are not drawn."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from PySide6.QtCore import QPointF, QRectF

from latent_atlas.editor.core.map_detail import LevelOfDetail
from latent_atlas.editor.map.latent_map import LatentMap
from latent_atlas.editor.map.map_selection import MapSelection
from latent_atlas.editor.widgets.palette import label_colour
from tests.editor_helpers import click_map

N = 30_000
BUDGET = 4_000


def points(n=N, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)).astype(np.float32), rng.integers(0, 10, n)


def in_rect(emb, x0, x1, y0, y1):
    return np.flatnonzero((emb[:, 0] >= x0) & (emb[:, 0] <= x1) & (emb[:, 1] >= y0) & (emb[:, 1] <= y1))


def test_zoomed_out_draws_the_budget_and_zoomed_in_every_point_near_the_view():
    emb, _ = points()
    lod = LevelOfDetail(emb, BUDGET)
    whole = (-5.0, 5.0, -5.0, 5.0)
    out = lod.choose(whole)
    assert len(out) == BUDGET and len(np.unique(out)) == BUDGET and not lod.complete
    small = (1.0, 1.4, -0.2, 0.2)
    assert not lod.covers(small)                     # zoomed in far: the subsample is chosen again
    near = lod.choose(small)
    assert lod.complete and set(in_rect(emb, *small)) <= set(near.tolist())
    assert set(near.tolist()) == set(in_rect(emb, 0.9, 1.5, -0.3, 0.3).tolist())   # the view and its margin
    # the points drawn zoomed out near the small view are among those drawn zoomed in
    assert set(np.intersect1d(out, in_rect(emb, *small)).tolist()) <= set(near.tolist())


def test_a_pan_keeps_the_choice_and_leaving_the_region_renews_it():
    emb, _ = points()
    lod = LevelOfDetail(emb, BUDGET)
    lod.choose((-1.0, 1.0, -1.0, 1.0))
    assert lod.covers((-0.8, 1.2, -0.9, 1.1))        # a small pan: the same points serve
    assert not lod.covers((0.0, 2.0, -1.0, 1.0))     # half a view away: chosen again
    assert not lod.covers((-2.0, 2.0, -2.0, 2.0))    # zoomed out
    few = LevelOfDetail(emb[:100], BUDGET)
    assert len(few.choose((0, 0.1, 0, 0.1))) == 100 and few.covers((50, 60, 50, 60))   # under budget: all


def make_map(qtbot, budget=BUDGET, labels=True):
    emb, lab = points()
    m = LatentMap(draw_budget=budget)
    qtbot.addWidget(m)
    m.resize(700, 500)
    m.show()
    qtbot.waitExposed(m)
    images = np.zeros((N, 28, 28, 1), np.uint8)
    m.set_points(emb, lab if labels else None, [f"class {i}" for i in range(10)] if labels else [], images)
    return m, emb, lab


def drawn_by_items(m):
    return sum(len(item.data) for item in m._groups)


def isolated_undrawn(m, emb):
    """An undrawn point far from every other point, so that a click on its pixel means it."""
    from scipy.spatial import cKDTree

    undrawn = np.setdiff1d(np.arange(len(emb)), m.drawn)
    d, _ = cKDTree(emb).query(emb[undrawn], k=2)
    return int(undrawn[np.argmax(d[:, 1])])


def test_zoomed_out_map_draws_a_subsample_in_class_colours(qtbot):
    m, emb, lab = make_map(qtbot)
    assert len(m.drawn) == BUDGET == drawn_by_items(m)
    n = len(m._groups)
    for k, (item, idx) in enumerate(zip(m._groups, m._group_indices)):
        assert np.all(lab[idx] == k)
        xs = np.asarray(item.data["x"])
        assert set(xs.tolist()) <= set(emb[idx, 0].tolist())          # each scatter holds its class only
        assert item.opts["brush"].color().rgb() == label_colour(k, n).rgb()
    old, _, _ = make_map(qtbot, budget=None)
    assert drawn_by_items(old) == N                  # the old drawing: every point


def test_zoomed_in_map_draws_every_point_in_view(qtbot):
    m, emb, _ = make_map(qtbot)
    m.view.setRange(QRectF(0.5, 0.5, 0.3, 0.2), padding=0)
    (x0, x1), (y0, y1) = m.view.viewRange()
    inside = in_rect(emb, x0, x1, y0, y1)
    assert 0 < len(inside) < BUDGET and set(inside.tolist()) <= set(m.drawn.tolist())
    xs = np.concatenate([np.asarray(item.data["x"]) for item in m._groups])
    assert set(emb[inside, 0].tolist()) <= set(xs.tolist())


def test_hover_click_and_lasso_find_a_point_that_is_not_drawn(qtbot):
    m, emb, lab = make_map(qtbot)
    i = isolated_undrawn(m, emb)
    assert i not in set(m.drawn.tolist())
    x, y = (float(v) for v in emb[i])
    assert m.nearest(x, y) == i
    with qtbot.waitSignal(m.point_clicked, timeout=2000) as clicked:
        click_map(qtbot, SimpleNamespace(map=m), x, y)      # a real mouse click on its pixel
    assert clicked.args[2] == i
    m._on_scene_mouse_moved((m.view.mapViewToScene(QPointF(x, y)),))          # the pointer over it
    assert m.thumbnail.isVisible() and m.thumbnail.caption.text() == f"#{i}  class {lab[i]}"
    lasso = MapSelection(m)
    r = 0.01
    lasso.set_polygon([(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r)])
    assert i in set(lasso.indices(m._embedding).tolist())


def test_an_unlabelled_map_shows_no_empty_legend_box(qtbot):
    m, _, _ = make_map(qtbot, labels=False)        # a GAN's map: no classes, so no legend entries
    assert not m.legend.isVisible()
    labelled, _, _ = make_map(qtbot)
    assert labelled.legend.isVisible()
