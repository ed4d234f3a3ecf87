"""IDX reader and the Fashion-MNIST / MNIST loaders."""

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from latent_atlas.models.data import load_dataset, registry
from latent_atlas.models.data.idx import FASHION_NAMES, load_idx_folder, read_idx
from latent_atlas.models.errors import DatasetError

FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray, *, magic: int | None = None, dims: tuple | None = None) -> bytes:
    dims = array.shape if dims is None else dims
    magic = (0x08 << 8 | len(dims)) if magic is None else magic
    return struct.pack(f">I{len(dims)}I", magic, *dims) + array.astype(np.uint8).tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def small_set(folder: Path, prefix: str = "train", n: int = 10, gz: bool = True, labels_n: int | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28))
    labels = np.arange(labels_n if labels_n is not None else n) % 10
    ext = ".gz" if gz else ""
    write(folder / f"{prefix}-images-idx3-ubyte{ext}", idx_bytes(images), gz)
    write(folder / f"{prefix}-labels-idx1-ubyte{ext}", idx_bytes(labels), gz)
    return images.astype(np.uint8), labels


needs_fashion = pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists(),
                                   reason="Fashion-MNIST not installed (dataset-fashion-mnist)")


@needs_fashion
def test_real_fashion_mnist_loads_both_splits(monkeypatch):
    monkeypatch.delenv("LATENT_ATLAS_FASHION_MNIST", raising=False)
    train, test = load_dataset("fashion-mnist"), load_dataset("fashion-mnist", split="test")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert np.array_equal(np.bincount(train.labels), [6000] * 10)
    assert np.array_equal(np.bincount(test.labels), [1000] * 10)
    assert train.label_names[0] == "T-shirt/top" and train.label_names[9] == "Ankle boot"
    assert train.name == "fashion-mnist" and train.source == str(FASHION)
    assert train.images.flags.writeable   # torch.from_numpy warns on read-only arrays


@needs_fashion
def test_raw_and_gzip_give_equal_arrays_whatever_the_extension(tmp_path):
    for kind in ("images-idx3", "labels-idx1"):
        raw = gzip.decompress((FASHION / f"t10k-{kind}-ubyte.gz").read_bytes())
        (tmp_path / f"t10k-{kind}-ubyte").write_bytes(raw)
    gz_data = load_idx_folder(FASHION, "test", FASHION_NAMES, "fashion-mnist")
    raw_data = load_idx_folder(tmp_path, "test", FASHION_NAMES, "fashion-mnist")
    assert np.array_equal(gz_data.images, raw_data.images) and np.array_equal(gz_data.labels, raw_data.labels)
    # the gzip magic decides, not the name: raw bytes called .gz and gzip bytes without .gz both load
    lying = tmp_path / "raw-named.gz"
    lying.write_bytes((tmp_path / "t10k-labels-idx1-ubyte").read_bytes())
    hidden = tmp_path / "gzip-named-raw"
    hidden.write_bytes((FASHION / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert np.array_equal(read_idx(lying, 1), read_idx(hidden, 1))


@pytest.mark.parametrize("gz", [False, True])
def test_good_small_file_loads(tmp_path, gz):   # the control for the fault tests below
    images, labels = small_set(tmp_path / "set", gz=gz)
    data = load_dataset(str(tmp_path / "set"))
    assert np.array_equal(data.images[:, 0], images) and np.array_equal(data.labels, labels)
    assert data.label_names == [str(d) for d in range(10)] and data.name == "set"


def test_fashion_in_the_path_picks_fashion_names(tmp_path):
    small_set(tmp_path / "my-Fashion-copy", prefix="t10k")
    data = load_dataset(str(tmp_path / "my-Fashion-copy"), split="test", image_size=14, channels=3)
    assert data.label_names == FASHION_NAMES and data.images.shape == (10, 3, 14, 14)
    with pytest.raises(DatasetError, match="train-images"):
        load_dataset(str(tmp_path / "my-Fashion-copy"), split="train")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_is_named(tmp_path, gz):
    data = idx_bytes(np.zeros((10, 28, 28)))
    path = write(tmp_path / "cut-images", data[: len(data) // 2], gz)
    with pytest.raises(DatasetError, match="cut-images.*truncated"):
        read_idx(path, 3)


def test_cut_gzip_stream_is_named(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(5000) % 256))[:-20])
    with pytest.raises(DatasetError, match="cut.gz"):
        read_idx(path, 1)


@pytest.mark.parametrize("gz", [False, True])
def test_trailing_bytes_are_rejected(tmp_path, gz):
    path = write(tmp_path / "long-labels", idx_bytes(np.zeros(10)) + b"\x00\x01", gz)
    with pytest.raises(DatasetError, match="long-labels.*unexpected bytes after"):
        read_idx(path, 1)


@pytest.mark.parametrize("magic", [0x00000804, 0x00000C03, 0x01000803, 0x00000801])
def test_wrong_magic_is_named(tmp_path, magic):
    path = write(tmp_path / "odd-images", idx_bytes(np.zeros((2, 3, 3)), magic=magic))
    with pytest.raises(DatasetError, match="odd-images.*wrong magic"):
        read_idx(path, 3)


def test_image_and_label_counts_must_agree(tmp_path):
    small_set(tmp_path, n=10, labels_n=9)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz has 10 images.*9 labels"):
        load_idx_folder(tmp_path, "train", FASHION_NAMES, "x")


def test_label_outside_the_names_is_named(tmp_path):
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(np.zeros((2, 4, 4))))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.array([3, 12])))
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.*label 12 at index 1"):
        load_idx_folder(tmp_path, "train", FASHION_NAMES, "x")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dims", [(10**6, 10**6, 10**6), (2**32 - 1,) * 3, (1000, 1000, 1000)])
def test_absurd_header_dims_fail_before_allocating(tmp_path, gz, dims):
    path = write(tmp_path / "huge-images", idx_bytes(np.zeros(100), dims=dims), gz)
    with pytest.raises(DatasetError, match="huge-images"):
        read_idx(path, 3)


def test_fashion_falls_back_to_the_subset_for_both_splits(tmp_path, monkeypatch):
    images, _ = small_set(tmp_path / "subset", prefix="t10k", n=12)
    monkeypatch.setenv("LATENT_ATLAS_FASHION_MNIST", str(tmp_path / "not-installed"))
    src = registry.BUILTIN_IDX["fashion-mnist"]
    monkeypatch.setitem(registry.BUILTIN_IDX, "fashion-mnist",
                        registry.IdxSource(src.env_var, src.default_dir, src.names, tmp_path / "subset",
                                           src.install_hint))
    for split in ("train", "test"):
        data = load_dataset("fashion-mnist", split=split)
        assert np.array_equal(data.images[:, 0], images) and data.label_names == FASHION_NAMES
        assert "subset" in data.source and data.name == "fashion-mnist"


def test_fashion_env_var_points_elsewhere(tmp_path, monkeypatch):
    images, _ = small_set(tmp_path / "elsewhere", n=7)
    monkeypatch.setenv("LATENT_ATLAS_FASHION_MNIST", str(tmp_path / "elsewhere"))
    data = load_dataset("fashion-mnist")
    assert len(data) == 7 and np.array_equal(data.images[:, 0], images)


def test_fashion_missing_everywhere_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_ATLAS_FASHION_MNIST", str(tmp_path / "a"))
    src = registry.BUILTIN_IDX["fashion-mnist"]
    monkeypatch.setitem(registry.BUILTIN_IDX, "fashion-mnist",
                        registry.IdxSource(src.env_var, src.default_dir, src.names, tmp_path / "b",
                                           src.install_hint))
    with pytest.raises(DatasetError) as info:
        load_dataset("fashion-mnist")
    message = str(info.value)
    assert str(tmp_path / "a") in message and str(tmp_path / "b") in message
    assert "apt-get install dataset-fashion-mnist" in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe-images")
    with pytest.raises(DatasetError, match=r"pipe-images is a named pipe \(FIFO\), not an IDX file"):
        read_idx(tmp_path / "pipe-images", 3)
