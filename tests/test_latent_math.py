"""Latent maths: interpolation, attribute vectors, traversals, KL ranking, off-data distances."""
import math

import pytest
import torch

from latent_atlas.models.latent.latent_math import (
    apply_vectors,
    attribute_vector,
    conditional_direction,
    cosine,
    cosine_matrix,
    dims_by_kl,
    interpolation_path,
    kl_per_dimension,
    lerp,
    nearest_distance,
    off_data_threshold,
    orthogonalise,
    slerp,
    traversal,
)


def _pair(d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, generator=g), torch.randn(d, generator=g)


def test_lerp_midpoint_and_batched_t():
    a, b = _pair()
    assert torch.allclose(lerp(a, b, 0.5), (a + b) / 2)
    frames = lerp(a, b, torch.tensor([0.0, 0.25, 1.0]))
    assert frames.shape == (3, 16)
    assert torch.allclose(frames[1], 0.75 * a + 0.25 * b)
    assert torch.equal(frames[0], a) and torch.allclose(frames[2], b)


def test_slerp_endpoints_exact_for_single_and_batched():
    a, b = _pair()
    assert torch.equal(slerp(a, b, 0.0), a)
    assert torch.equal(slerp(a, b, 1.0), b)
    A, B = torch.stack([a, b]), torch.stack([b, 2 * a])
    out = slerp(A, B, torch.tensor([0.0, 1.0]))
    assert torch.equal(out[0], a) and torch.equal(out[1], 2 * a)


def test_slerp_keeps_norm_where_lerp_shrinks_it():
    a = torch.tensor([3.0, 0.0, 0.0])
    b = torch.tensor([0.0, 3.0, 0.0])
    mid = slerp(a, b, 0.5)
    assert mid.norm().item() == pytest.approx(3.0, rel=1e-6)
    assert lerp(a, b, 0.5).norm().item() < 2.2                   # 3 / sqrt(2): what slerp avoids
    assert cosine(mid, a).item() == pytest.approx(math.cos(math.pi / 4), rel=1e-6)   # halfway in angle


def test_slerp_norm_moves_linearly_when_norms_differ():
    a = torch.tensor([1.0, 0.0])
    b = torch.tensor([0.0, 3.0])
    for t in (0.25, 0.5, 0.75):
        assert slerp(a, b, t).norm().item() == pytest.approx(1 + 2 * t, rel=1e-6)


def test_slerp_parallel_and_zero_vectors_fall_back_to_lerp():
    a = torch.tensor([1.0, 2.0, 3.0])
    for b in (2 * a, torch.zeros(3)):
        out = slerp(a, b, 0.3)
        assert torch.isfinite(out).all()
        assert torch.allclose(out, lerp(a, b, 0.3), atol=1e-6)


def test_path_through_three_waypoints_hits_each_waypoint():
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])     # two segments of length 1
    frames = interpolation_path(pts, 5, mode="lerp")
    assert frames.shape == (5, 2)
    assert torch.equal(frames[0], pts[0]) and torch.equal(frames[-1], pts[-1])
    assert torch.allclose(frames[2], pts[1], atol=1e-6)
    assert torch.allclose(frames[1], torch.tensor([0.5, 0.0]), atol=1e-6)   # even spacing


def test_slerp_path_hits_waypoints_and_spaces_frames_evenly():
    pts = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]])  # two equal quarter circles
    frames = interpolation_path(pts, 9, mode="slerp")
    assert torch.equal(frames[0], pts[0]) and torch.equal(frames[-1], pts[-1])
    assert torch.allclose(frames[4], pts[1], atol=1e-5)
    steps = (frames[1:] - frames[:-1]).norm(dim=-1)
    assert torch.allclose(steps, steps.mean().expand_as(steps), rtol=1e-3)
    assert torch.allclose(frames.norm(dim=-1), torch.full((9,), 2.0), atol=1e-5)


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_one_segment_path_is_the_interpolation_at_even_steps(mode):
    """A drag's strip (two waypoints) skips measuring the segment's length: its frames are the interpolation at
    t = 0, 1/(n-1), ..., 1, as a length-weighted split of one segment gives, whatever the length."""
    fn = lerp if mode == "lerp" else slerp
    for scale in (1e-3, 1.0, 50.0):
        a, b = (v * scale for v in _pair(24, seed=int(scale * 10)))
        pts = torch.stack([a, b])
        frames = interpolation_path(pts, 11, mode)
        want = fn(a, b, torch.linspace(0, 1, 11))
        assert torch.allclose(frames, want, rtol=1e-5, atol=1e-6 * scale)
        assert torch.equal(frames[0], a) and torch.equal(frames[-1], b)
    same = torch.ones(2, 5)
    assert torch.equal(interpolation_path(same, 4, mode), torch.ones(4, 5))


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_numpy_path_is_the_torch_path(mode):
    """The strip on the GUI thread is computed with numpy (torch's per-call overhead cost ~1 ms a drag move):
    the same frames as the torch path, numpy in and numpy out, including the parallel and zero fall-backs."""
    import numpy as np

    rng = np.random.default_rng(3)
    for trial in range(60):
        pts = rng.standard_normal((int(rng.integers(2, 6)), int(rng.integers(1, 40)))).astype(np.float32)
        if trial % 5 == 0:
            pts[1] = 2 * pts[0]          # parallel: lerp
        if trial % 7 == 0:
            pts[0] = 0                   # a zero vector: lerp
        n = int(rng.integers(2, 33))
        want = interpolation_path(torch.from_numpy(pts), n, mode).numpy()
        got = interpolation_path(pts.copy(), n, mode)
        assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 * np.abs(want).max())
        assert np.array_equal(got[0], pts[0]) and np.array_equal(got[-1], pts[-1])
    a = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_allclose(slerp(a, 2 * a, 0.3), lerp(a, 2 * a, 0.3), atol=1e-6)


def test_path_rejects_too_few_waypoints_or_frames():
    with pytest.raises(ValueError, match="2 waypoints"):
        interpolation_path(torch.zeros(1, 4), 5)
    with pytest.raises(ValueError, match="2 frames"):
        interpolation_path(torch.zeros(2, 4), 1)


def test_attribute_vector_sign_and_size_on_two_clusters():
    g = torch.Generator().manual_seed(1)
    e0 = torch.zeros(8)
    e0[0] = 1.0
    z = torch.cat([e0 + 0.01 * torch.randn(50, 8, generator=g), -e0 + 0.01 * torch.randn(50, 8, generator=g)])
    mask = torch.arange(100) < 50
    v = attribute_vector(z, mask)
    assert torch.allclose(v, 2 * e0, atol=0.02)
    assert torch.allclose(attribute_vector(z, ~mask), -v)        # swapping the groups flips the sign


def test_attribute_vector_empty_group_is_a_clear_error():
    z = torch.randn(5, 3)
    with pytest.raises(ValueError, match="no latents with the attribute"):
        attribute_vector(z, torch.zeros(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="no latents without the attribute"):
        attribute_vector(z, torch.ones(5, dtype=torch.bool))


def test_apply_vectors_adds_weighted_sum_to_single_and_batch():
    z = torch.zeros(3)
    v1, v2 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    assert torch.allclose(apply_vectors(z, [v1, v2], [2.0, -0.5]), torch.tensor([2.0, -0.5, 0.0]))
    batch = torch.ones(4, 3)
    assert torch.allclose(apply_vectors(batch, [v1], [1.0]), batch + v1)
    assert torch.equal(apply_vectors(z, [], []), z)
    with pytest.raises(ValueError):
        apply_vectors(z, [v1], [1.0, 2.0])


def test_orthogonalise_removes_projection_and_keeps_orthogonal_vectors():
    a, b = _pair(seed=3)
    out = orthogonalise(a, b)
    assert abs(cosine(out, b).item()) < 1e-6
    assert torch.allclose(a - out, (a @ b) / (b @ b) * b, atol=1e-5)    # removed exactly the projection
    e0, e1 = torch.eye(3)[0], torch.eye(3)[1]
    assert torch.equal(orthogonalise(e0, e1), e0)
    # against two overlapping vectors: each component removed once, not twice
    out2 = orthogonalise(torch.tensor([1.0, 1.0, 1.0]), [e0, e0 + e1])
    assert torch.allclose(out2, torch.tensor([0.0, 0.0, 1.0]), atol=1e-6)


def test_conditional_direction_removes_the_protected_span_and_reports_the_cosine():
    v = torch.tensor([3.0, 4.0, 0.0])
    kept, removed = conditional_direction(v, [torch.tensor([0.0, 2.0, 0.0])])
    assert torch.allclose(kept, torch.tensor([3.0, 0.0, 0.0]))
    assert removed == pytest.approx(0.8)                 # cos(v, e1) = 4 / 5
    kept, removed = conditional_direction(v, [])
    assert torch.equal(kept, v) and removed == 0.0
    kept, removed = conditional_direction(v, torch.eye(3)[:2])   # v lies in the span: nothing is left
    assert kept.norm() < 1e-6 and removed == pytest.approx(1.0)
    with pytest.raises(ValueError):
        conditional_direction(torch.ones(2, 3), [v])


def test_cosine_matrix_is_symmetric_with_unit_diagonal():
    V = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    C = cosine_matrix(V)
    assert torch.allclose(C.diagonal(), torch.ones(3))
    assert torch.allclose(C, C.T)
    assert C[0, 1].item() == pytest.approx(0.0) and C[0, 2].item() == pytest.approx(1 / math.sqrt(2))


def test_traversal_sets_only_the_chosen_dimension():
    z = torch.arange(5.0)
    values = torch.tensor([-2.0, 0.0, 2.0])
    out = traversal(z, [1, 4], values)
    assert out.shape == (2, 3, 5)
    assert torch.equal(out[0, :, 1], values) and torch.equal(out[1, :, 4], values)
    untouched = out[0].clone()
    untouched[:, 1] = z[1]
    assert torch.equal(untouched, z.expand(3, 5))
    with pytest.raises(ValueError, match="outside"):
        traversal(z, [5], values)


def test_dims_by_kl_puts_the_informative_dimension_first():
    g = torch.Generator().manual_seed(2)
    mu = 0.01 * torch.randn(200, 6, generator=g)
    mu[:, 3] = 3 * torch.randn(200, generator=g)
    logvar = torch.zeros(200, 6)
    logvar[:, 3] = -4.0
    kl = kl_per_dimension(mu, logvar)
    assert kl.shape == (6,) and (kl >= 0).all()
    assert dims_by_kl(mu, logvar)[0] == 3
    assert kl_per_dimension(torch.zeros(4, 2), torch.zeros(4, 2)).abs().max() == 0   # prior: no KL


def test_nearest_distance_and_off_data_threshold():
    data = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [10.0, 10.0]])
    d = nearest_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]]), data)
    assert torch.allclose(d, torch.tensor([0.0, math.sqrt(18.0)]))   # (3, 4) is nearest (0, 1)
    # nearest OTHER point: 1, 1, 1 and |(10,10)-(1,0)| = sqrt(181); the max is the q=1 quantile
    assert off_data_threshold(data, q=1.0) == pytest.approx(math.sqrt(181.0))
    assert off_data_threshold(data, q=0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        off_data_threshold(data[:1])
