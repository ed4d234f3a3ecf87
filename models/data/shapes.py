"""Procedural dSprites-style shapes: one white square, ellipse or heart on black, with known factors.

Every image comes from five factors drawn by a seeded numpy Generator: shape, scale in [0.5, 1], rotation in
[0, 2pi), and the centre x, y in [0.2, 0.8] (fractions of the width and height, y measured down). Shapes are
rasterised from signed distance functions, with coverage = clip(0.5 - distance_in_pixels, 0, 1): exact
antialiasing at a fraction of the cost of drawing at 4x and downsampling (20,000 64x64 images take a few
seconds on one core). The position is the shape's centre of area, so a shape at x < 0.5 has its pixel centre
of mass in the left half.
"""

from __future__ import annotations

import numpy as np

from latent_atlas.models.data.image_data import ImageData
from latent_atlas.models.errors import DatasetError

SHAPE_NAMES = ["square", "ellipse", "heart"]
ATTRIBUTE_NAMES = ["large", "left", "top", "rotated", "round"]
DEFAULT_COUNT = {"train": 20_000, "test": 5_000}
TEST_SEED_OFFSET = 1_000_003   # test images come from another stream, so they never repeat training images

RADIUS = 0.19          # circumradius at scale 1, fraction of the side: at x = 0.2 the shape stays in frame
ELLIPSE_MINOR = 0.55   # minor / major axis: a circle would make rotation invisible
HEART_CENTROID = 0.6567   # centre of area of the unit heart (tip at 0, lobes up to 1.10), measured
HEART_RADIUS = 0.6563     # farthest point of the unit heart from that centre
CHUNK = 256            # images rasterised at once: (CHUNK, H, W) float32 temporaries stay small


def make_shapes(split: str = "train", *, seed: int = 0, image_size: int = 64,
                count: int | None = None) -> ImageData:
    """The first `count` images (default 20,000 train / 5,000 test) of the split, deterministic by seed."""
    if split not in DEFAULT_COUNT:
        raise DatasetError(f"shapes: unknown split '{split}': use 'train' or 'test'")
    n_full = DEFAULT_COUNT[split]
    n = n_full if count is None else min(count, n_full)
    factors = draw_factors(n_full, seed + (TEST_SEED_OFFSET if split == "test" else 0))[:n]
    images = render(factors, image_size)
    return ImageData(images=images, labels=factors[:, 0].astype(np.int64), label_names=list(SHAPE_NAMES),
                     attributes=attributes_of(factors), attribute_names=list(ATTRIBUTE_NAMES),
                     name="shapes", source="procedural", factors=factors)


def draw_factors(n: int, seed: int) -> np.ndarray:
    """(n, 5) float32: shape index, scale, rotation, x, y; drawn for the whole split, so limit is a prefix."""
    rng = np.random.default_rng(seed)
    shape = rng.integers(0, len(SHAPE_NAMES), n)
    scale = rng.uniform(0.5, 1.0, n)
    rotation = rng.uniform(0.0, 2 * np.pi, n)
    x = rng.uniform(0.2, 0.8, n)
    y = rng.uniform(0.2, 0.8, n)
    return np.stack([shape, scale, rotation, x, y], axis=1).astype(np.float32)


def attributes_of(factors: np.ndarray) -> np.ndarray:
    """(n, 5) float32 in {0, 1}: large, left, top, rotated, round (see ATTRIBUTE_NAMES)."""
    shape, scale, rotation, x, y = factors.T
    heart = shape == SHAPE_NAMES.index("heart")
    # a square or ellipse turned by a quarter turn looks the same, so "rotated" means nearer the diagonal;
    # a heart has no such symmetry, so it means "more than half a turn"
    rotated = np.where(heart, rotation > np.pi, np.mod(rotation, np.pi / 2) > np.pi / 4)
    table = [scale > 0.75, x < 0.5, y < 0.5, rotated, shape == SHAPE_NAMES.index("ellipse")]
    return np.stack(table, axis=1).astype(np.float32)


def render(factors: np.ndarray, size: int) -> np.ndarray:
    """(n, 1, size, size) uint8 images of the given factors."""
    n = len(factors)
    out = np.empty((n, 1, size, size), dtype=np.uint8)
    centres = np.arange(size, dtype=np.float32) + 0.5   # pixel centres, in pixels
    for start in range(0, n, CHUNK):
        f = factors[start:start + CHUNK]
        dist = np.empty((len(f), size, size), dtype=np.float32)
        for index, sdf in enumerate((_square, _ellipse, _heart)):
            pick = np.nonzero(f[:, 0] == index)[0]
            if len(pick):
                u, v, r = _shape_frame(f[pick], centres, size)
                dist[pick] = sdf(u, v, r)
        coverage = np.clip(0.5 - dist, 0.0, 1.0)
        out[start:start + CHUNK, 0] = np.rint(coverage * 255.0).astype(np.uint8)
    return out


def _shape_frame(f: np.ndarray, centres: np.ndarray, size: int):
    """Pixel coordinates in each shape's rotated frame (u right, v down), and its radius in pixels."""
    scale, rot, x, y = (f[:, i, None, None] for i in range(1, 5))
    dx = centres[None, None, :] - x * size                # (k, 1, W)
    dy = centres[None, :, None] - y * size                # (k, H, 1)
    cos, sin = np.cos(rot), np.sin(rot)
    u = cos * dx + sin * dy                               # (k, H, W)
    v = cos * dy - sin * dx
    return u, v, (RADIUS * size) * scale


def _square(u, v, r):
    h = r / np.sqrt(np.float32(2.0))                      # half side, so the corners touch the circumradius
    qx, qy = np.abs(u) - h, np.abs(v) - h
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    return outside + np.minimum(np.maximum(qx, qy), 0.0)


def _ellipse(u, v, r):
    a, b = r, r * ELLIPSE_MINOR
    k0 = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    k1 = np.sqrt((u / (a * a)) ** 2 + (v / (b * b)) ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)         # first-order distance: exact enough for 1 px blur


def _heart(u, v, r):
    # Inigo Quilez's exact heart distance in a unit frame with the tip at the origin and the lobes up
    k = r / HEART_RADIUS
    px = np.abs(u) / k
    py = HEART_CENTROID - v / k                           # image v points down, heart y points up
    lobe = np.hypot(px - 0.25, py - 0.75) - np.sqrt(2.0) / 4
    m = 0.5 * np.maximum(px + py, 0.0)
    body = np.sqrt(np.minimum(px ** 2 + (py - 1.0) ** 2, (px - m) ** 2 + (py - m) ** 2)) * np.sign(px - py)
    return np.where(px + py > 1.0, lobe, body) * k
