"""Interpolation strips without Qt: endpoints, frame counts, lerp vs slerp, paths through waypoints, tiles."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from latent_atlas.editor.core.strip import MAX_FRAMES, Waypoints, endpoint_latent, strip_latents
from latent_atlas.editor.core.tiles import tile, tile_at
from latent_atlas.models.latent.projection import make_projection

RNG = np.random.default_rng(0)
A = RNG.normal(size=6).astype(np.float32)
B = RNG.normal(size=6).astype(np.float32)


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
@pytest.mark.parametrize("n", [2, 8, MAX_FRAMES])
def test_strip_has_n_frames_and_exact_endpoints(mode, n):
    frames = strip_latents([A, B], n, mode)
    assert frames.shape == (n, 6) and frames.dtype == np.float32
    assert np.array_equal(frames[0], A) and np.array_equal(frames[-1], B)


def test_strip_refuses_frame_counts_outside_the_spin_box_range():
    for n in (1, MAX_FRAMES + 1):
        with pytest.raises(ValueError, match="frames"):
            strip_latents([A, B], n)


def test_slerp_and_lerp_differ_between_the_ends():
    lerp, slerp = strip_latents([A, B], 9, "lerp"), strip_latents([A, B], 9, "slerp")
    assert np.abs(lerp[4] - slerp[4]).max() > 1e-2
    # slerp keeps the norm a straight ramp between the ends; lerp cuts the corner and shrinks it
    assert np.linalg.norm(slerp[4]) > np.linalg.norm(lerp[4])


def test_path_through_three_waypoints_visits_the_middle_one():
    a, m, b = np.zeros(2, np.float32), np.array([1, 0], np.float32), np.array([1, 1], np.float32)
    frames = strip_latents([a, m, b], 5, "lerp")
    assert np.allclose(frames, [[0, 0], [0.5, 0], [1, 0], [1, 0.5], [1, 1]], atol=1e-6)
    # a two-point path would cut across the square instead
    assert not np.allclose(strip_latents([a, b], 5, "lerp")[2], m)


def test_endpoint_is_the_exact_data_latent_on_a_point_else_the_inverse():
    latents = RNG.normal(size=(50, 5)).astype(np.float32)
    projection = make_projection("pca").fit(latents)
    loaded = SimpleNamespace(latents=latents, projection=projection)
    assert np.array_equal(endpoint_latent(loaded, 9.0, 9.0, data_index=7), latents[7])
    expected = projection.inverse(np.array([[0.3, -0.2]], np.float32))[0]
    assert np.allclose(endpoint_latent(loaded, 0.3, -0.2, data_index=-1), expected)


def test_waypoints_keep_a_first_and_grow_at_the_end():
    w = Waypoints()
    assert not w.ready()
    w.set_a(A)
    assert not w.ready() and "A set" in w.describe()
    w.set_b(B)
    w.add(A + B)
    assert w.ready() and len(w) == 3 and "3 waypoints" in w.describe()
    assert np.array_equal(w.points[0], A) and np.array_equal(w.points[-1], A + B)
    w.set_b(B)                                     # B is always the last stop
    assert np.array_equal(w.points[-1], B) and len(w) == 3
    w.set_ends(B, A)                               # a drag replaces the whole path
    assert len(w) == 2 and np.array_equal(w.points[0], B)
    with pytest.raises(ValueError, match="finite"):
        w.add(np.full(6, np.nan))


def test_tile_at_finds_each_tile_and_not_the_padding():
    images = np.arange(7 * 3 * 4, dtype=np.uint8).reshape(7, 3, 4, 1)    # 7 tiles of 3x4
    grid = tile(images, ncols=3, pad=1)
    assert grid.shape == (3 * 4 - 1, 3 * 5 - 1, 1)
    for i in range(7):
        r, q = divmod(i, 3)
        assert np.array_equal(grid[r * 4:r * 4 + 3, q * 5:q * 5 + 4], images[i])
        assert tile_at(q * 5 + 2, r * 4 + 1, (3, 4), 3, 7) == i
    assert tile_at(4.5, 1, (3, 4), 3, 7) is None                 # the padding column between tiles
    assert tile_at(2 * 5 + 1, 2 * 4 + 1, (3, 4), 3, 7) is None   # the empty cell after the last tile
    assert tile_at(-1, 0, (3, 4), 3, 7) is None


def test_waypoints_from_a_session_are_checked():
    from latent_atlas.editor.core.strip import waypoints_from_json

    good = waypoints_from_json([[0, 1.5, -2], [3, 4, 5]], 3)
    assert [z.dtype for z in good] == [np.float32] * 2 and good[0].tolist() == [0, 1.5, -2]
    assert waypoints_from_json([], 3) == []
    for bad in (None, "x", [[0, 1]], [[0, 1, "2"]], [[0, 1, True]], [[0, 1, float("nan")]], [[0, 1, 1e300]],
                [[0, 1, 2], 5], {"a": 1}, [[0, 0, 0]] * 1001):
        assert waypoints_from_json(bad, 3) is None, bad
