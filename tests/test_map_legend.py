"""The map's legend has its own column: it never covers a point (issue 15, finding 14: it sat over the
t-SNE map's upper right corner), and an unlabelled map gives it no room at all."""
from __future__ import annotations

from tests.test_map_detail import make_map


def _scene_rect(item):
    return item.mapRectToScene(item.boundingRect())


def test_the_legend_sits_beside_the_view_never_over_it(qtbot):
    m, _, _ = make_map(qtbot)
    qtbot.wait(50)
    legend, view = _scene_rect(m.legend), _scene_rect(m.view)
    assert m.legend.isVisible() and legend.width() > 40
    assert legend.left() >= view.right() - 1, (legend, view)
    assert legend.height() < view.height() / 2 + 40, "as tall as its ten rows, not the whole column"


def test_an_unlabelled_map_gives_the_view_the_whole_width(qtbot):
    labelled, _, _ = make_map(qtbot)
    plain, _, _ = make_map(qtbot, labels=False)
    qtbot.wait(50)
    assert _scene_rect(plain.view).width() > _scene_rect(labelled.view).width() + 40
    assert _scene_rect(plain.legend).width() <= 1 or not plain.legend.isVisible()
