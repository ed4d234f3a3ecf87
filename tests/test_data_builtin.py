"""Built-in datasets (digits, shapes), ImageData's helpers, and load_dataset's argument handling."""

import json
import time

import numpy as np
import pytest

from latent_atlas.models.data import DATASET_NAMES, ImageData, load_dataset
from latent_atlas.models.data.shapes import ATTRIBUTE_NAMES, SHAPE_NAMES, make_shapes
from latent_atlas.models.errors import DatasetError


def _rows(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
    return sorted(img.tobytes() + bytes([lab]) for img, lab in zip(images, labels))


def test_digits_train_and_test_partition_the_bundled_set():
    from sklearn.datasets import load_digits

    train, test = load_dataset("digits"), load_dataset("digits", split="test")
    assert train.images.shape == (1438, 1, 8, 8) and test.images.shape == (359, 1, 8, 8)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert train.images.max() == 255 and train.images.min() == 0          # 0..16 scaled, not left at 16
    assert train.label_names == [str(d) for d in range(10)]
    assert set(np.unique(train.labels)) == set(range(10)) == set(np.unique(test.labels))
    full = load_digits()
    everything = _rows(np.round(full.images * 255 / 16).astype(np.uint8)[:, None], full.target)
    # together they hold every item exactly once: no overlap, nothing lost
    assert sorted(_rows(train.images, train.labels) + _rows(test.images, test.labels)) == everything


def test_digits_split_is_deterministic_and_ignores_seed():
    a, b = load_dataset("digits", split="test"), load_dataset("digits", split="test", seed=5)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)


def test_digits_resize_and_rgb():
    data = load_dataset("digits", image_size=28, channels=3, limit=10)
    assert data.images.shape == (10, 3, 28, 28)
    assert np.array_equal(data.images[:, 0], data.images[:, 2])


def test_shapes_deterministic_by_seed_and_seeds_differ():
    a = make_shapes(seed=3, count=200)
    b = make_shapes(seed=3, count=200)
    c = make_shapes(seed=4, count=200)
    test = make_shapes("test", seed=3, count=200)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.factors, b.factors)
    assert not np.array_equal(a.images, c.images)
    assert not np.array_equal(a.images, test.images)


def test_shapes_limit_takes_a_prefix_of_the_full_split():
    short, longer = load_dataset("shapes", limit=30), load_dataset("shapes", limit=300)
    assert len(short) == 30
    assert np.array_equal(short.images, longer.images[:30])
    assert np.array_equal(short.factors, longer.factors[:30])


def _centre_of_mass(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = images[:, 0].astype(np.float64)
    size = w.shape[-1]
    grid = np.arange(size) + 0.5
    mass = w.sum(axis=(1, 2))
    return (w.sum(axis=1) @ grid) / mass, (w.sum(axis=2) @ grid) / mass


@pytest.mark.parametrize("size", [64, 28])
def test_shapes_pixels_agree_with_factors_and_attributes(size):
    data = make_shapes(seed=1, image_size=size, count=600)
    assert data.images.shape == (600, 1, size, size) and data.images.dtype == np.uint8
    shape, _scale, _rotation, x, y = data.factors.T
    cx, cy = _centre_of_mass(data.images)
    assert np.abs(cx - x * size).max() < 0.35 and np.abs(cy - y * size).max() < 0.35
    attrs = dict(zip(ATTRIBUTE_NAMES, data.attributes.T))
    clear = np.abs(x - 0.5) > 0.02
    assert np.array_equal(attrs["left"][clear] == 1, cx[clear] < size / 2)
    clear = np.abs(y - 0.5) > 0.02
    assert np.array_equal(attrs["top"][clear] == 1, cy[clear] < size / 2)   # rows count down: top = small y
    mass = data.images.astype(np.float64).sum(axis=(1, 2, 3))
    for s in range(3):
        kind = shape == s
        assert mass[kind & (attrs["large"] == 1)].mean() > 1.5 * mass[kind & (attrs["large"] == 0)].mean()
    assert np.array_equal(attrs["round"] == 1, shape == SHAPE_NAMES.index("ellipse"))
    assert np.array_equal(data.labels, shape.astype(np.int64))


def test_shapes_factor_ranges_balance_and_antialiasing():
    data = make_shapes(seed=0, count=3000)
    shape, scale, rotation, x, y = data.factors.T
    assert data.factors.dtype == np.float32
    assert 0.5 <= scale.min() and scale.max() <= 1.0 and 0 <= rotation.min() and rotation.max() < 2 * np.pi
    assert 0.2 <= min(x.min(), y.min()) and max(x.max(), y.max()) <= 0.8
    counts = np.bincount(data.labels, minlength=3) / len(data)
    assert counts.min() > 0.28 and counts.max() < 0.39
    edge = (data.images > 0) & (data.images < 255)
    assert edge.sum(axis=(1, 2, 3)).min() > 4          # soft edges on every image, not a hard threshold
    assert (data.images[:, :, 0, :] == 0).all()         # shapes never touch the border
    heart = shape == SHAPE_NAMES.index("heart")
    rot = data.attributes[:, ATTRIBUTE_NAMES.index("rotated")] == 1
    assert np.array_equal(rot[heart], rotation[heart] > np.pi)
    assert np.array_equal(rot[~heart], np.mod(rotation[~heart], np.pi / 2) > np.pi / 4)


def test_twenty_thousand_shapes_generate_in_under_ten_seconds():
    start = time.perf_counter()
    data = load_dataset("shapes")
    elapsed = time.perf_counter() - start
    assert data.images.shape == (20_000, 1, 64, 64)
    assert len(load_dataset("shapes", split="test", limit=5_000)) == 5_000
    assert elapsed < 10.0, f"20,000 shapes took {elapsed:.1f} s"


def test_image_data_subset_conditions_and_describe():
    data = make_shapes(count=20)
    part = data.subset(np.array([3, 1]))
    assert np.array_equal(part.images, data.images[[3, 1]])
    assert np.array_equal(part.factors, data.factors[[3, 1]])
    onehot, names = data.conditions("labels")
    assert onehot.shape == (20, 3) and onehot.dtype == np.float32 and names == SHAPE_NAMES
    assert np.array_equal(onehot.argmax(1), data.labels) and (onehot.sum(1) == 1).all()
    attrs, names = data.conditions("attributes")
    assert names == ATTRIBUTE_NAMES and np.array_equal(attrs, data.attributes)
    info = json.loads(json.dumps(data.describe()))
    assert info == {"name": "shapes", "source": "procedural", "n": 20, "image_shape": [1, 64, 64],
                    "label_names": SHAPE_NAMES, "attribute_names": ATTRIBUTE_NAMES, "n_skipped": 0}
    with pytest.raises(DatasetError, match="no attributes"):
        load_dataset("digits", limit=5).conditions("attributes")
    with pytest.raises(DatasetError, match="unknown condition"):
        data.conditions("colour")


def test_unlabelled_items_get_zero_condition_rows():
    data = ImageData(images=np.zeros((3, 1, 4, 4), np.uint8), labels=np.array([1, -1, 0]),
                     label_names=["a", "b"], attributes=None, attribute_names=[], name="x", source="test")
    onehot, _ = data.conditions()
    assert onehot.tolist() == [[0, 1], [0, 0], [1, 0]]


def test_image_data_rejects_inconsistent_arrays():
    with pytest.raises(DatasetError, match="uint8"):
        ImageData(images=np.zeros((2, 1, 4, 4), np.float32), labels=None, label_names=[], attributes=None,
                  attribute_names=[], name="x", source="made-up")
    with pytest.raises(DatasetError, match="labels"):
        ImageData(images=np.zeros((2, 1, 4, 4), np.uint8), labels=np.zeros(3, np.int64), label_names=["a"],
                  attributes=None, attribute_names=[], name="x", source="made-up")
    with pytest.raises(DatasetError, match="outside"):
        ImageData(images=np.zeros((2, 1, 4, 4), np.uint8), labels=np.array([0, 2]), label_names=["a", "b"],
                  attributes=None, attribute_names=[], name="x", source="made-up")


def test_rgb_to_gray_matches_pil():
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (1, 3, 8, 8), dtype=np.uint8)
    data = ImageData(images=rgb, labels=None, label_names=[], attributes=None, attribute_names=[],
                     name="x", source="test")
    expected = np.asarray(Image.fromarray(rgb[0].transpose(1, 2, 0)).convert("L"))
    assert np.array_equal(data.with_channels(1).images[0, 0], expected)


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "val"}, "unknown split"),
    ({"image_size": 2}, "image size"),
    ({"channels": 2}, "channels"),
    ({"limit": 0}, "limit"),
    ({"attributes_file": "list_attr_celeba.txt"}, "only to image folders"),
])
def test_load_dataset_rejects_bad_arguments(kwargs, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset("digits", **kwargs)


def test_load_dataset_names_a_missing_path_and_a_plain_file(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match="nowhere"):
        load_dataset(str(missing))
    plain = tmp_path / "notes.txt"
    plain.write_text("hello")
    with pytest.raises(DatasetError, match="notes.txt.*is a file"):
        load_dataset(str(plain))
    assert DATASET_NAMES == ("digits", "shapes", "fashion-mnist", "mnist", "emoji")
