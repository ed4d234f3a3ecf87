"""The data a user hands to view(): a tensor, a numpy array, a torch Dataset or a folder, as ImageData
(uint8 (N, C, H, W)), plus the value range it came in ("unit" [0, 1] or "tanh" [-1, 1])."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from latent_atlas.models.data import DATASET_NAMES, ImageData, load_dataset
from latent_atlas.models.errors import DatasetError

MAP_LIMIT = 10_000


def image_data_from(data, labels=None, label_names=None, *, limit: int = MAP_LIMIT,
                    image_shape: tuple[int, int, int] | None = None) -> tuple[ImageData, str | None]:
    """(ImageData, range of the given values or None when that says nothing, e.g. uint8 or a folder)."""
    if isinstance(data, (str, Path)):
        spec = str(data)
        if spec not in DATASET_NAMES and not Path(spec).is_dir():
            raise DatasetError(f"{spec}: not a folder of images or a dataset name ({', '.join(DATASET_NAMES)})")
        c, h = (image_shape[0], image_shape[1]) if image_shape else (None, None)
        loaded = load_dataset(spec, split="test" if spec in DATASET_NAMES else "train", image_size=h,
                              channels=c, limit=limit)
        if labels is not None or label_names is not None:
            loaded = _with_labels(loaded, labels, label_names)
        return loaded, None
    if _is_dataset(data):
        data, found = _from_dataset(data, limit)
        labels = found if labels is None else labels
    array = _to_numpy(data, "data")[:limit]
    images, value_range = _to_uint8_nchw(array)
    out = ImageData(images, None, [], None, [], "data", "view(data=...)")
    if labels is not None:
        out = _with_labels(out, _to_numpy(labels, "labels")[:len(images)], label_names)
    return out, value_range


def _is_dataset(data) -> bool:
    import torch

    return isinstance(data, torch.utils.data.Dataset) or (
        hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, np.ndarray)
        and not isinstance(data, torch.Tensor) and not isinstance(data, (list, tuple)))


def _from_dataset(dataset, limit):
    import torch

    xs, ys = [], []
    for i in range(min(len(dataset), limit)):
        item = dataset[i]
        x, y = (item[0], item[1]) if isinstance(item, (tuple, list)) and len(item) >= 2 else (item, None)
        if hasattr(x, "convert") and hasattr(x, "size"):                       # a PIL image
            x = np.asarray(x)
        xs.append(_to_numpy(x, f"dataset item {i}"))
        if y is not None:
            ys.append(int(y.item() if isinstance(y, torch.Tensor) else y))
    if not xs:
        raise DatasetError("view(data=...): the dataset is empty")
    try:
        stacked = np.stack(xs)
    except ValueError as e:
        raise DatasetError(f"view(data=...): the dataset's images differ in shape ({e})") from None
    return stacked, (np.asarray(ys) if len(ys) == len(xs) else None)


def _to_numpy(value, what) -> np.ndarray:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as e:
        raise DatasetError(f"view({what}=...): not an array ({e})") from None


def _to_uint8_nchw(a: np.ndarray) -> tuple[np.ndarray, str | None]:
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4:
        raise DatasetError(f"view(data=...): images must be (N, C, H, W), (N, H, W, C) or (N, H, W), "
                           f"got shape {a.shape}")
    if a.shape[1] not in (1, 3) and a.shape[3] in (1, 3):
        a = a.transpose(0, 3, 1, 2)
    if a.shape[1] not in (1, 3):
        raise DatasetError(f"view(data=...): images need 1 or 3 channels, got shape {a.shape}")
    if len(a) == 0:
        raise DatasetError("view(data=...): no images")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a), None
    if not np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_:
        raise DatasetError(f"view(data=...): images must be numbers, got {a.dtype}")
    a = a.astype(np.float32)
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise DatasetError("view(data=...): the images hold NaN or infinite values")
    if lo >= -1e-3 and hi <= 1 + 1e-3:
        value_range = "unit"
    elif lo >= -1 - 1e-3 and hi <= 1 + 1e-3:
        value_range, a = "tanh", (a + 1) / 2
    else:
        raise DatasetError(f"view(data=...): values span [{lo:.3g}, {hi:.3g}]: give images in [0, 1], "
                           "[-1, 1] or as uint8")
    return np.clip(np.rint(a * 255), 0, 255).astype(np.uint8), value_range


def _with_labels(data: ImageData, labels, label_names) -> ImageData:
    from dataclasses import replace

    if labels is None:
        raise DatasetError("view(label_names=...) needs labels=")
    labels = np.asarray(labels)
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"view(labels=...): need {len(data)} whole numbers, one per image, got "
                           f"{labels.shape} {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise DatasetError("view(labels=...): labels must be >= 0")
    names = [str(n) for n in label_names] if label_names is not None else [str(i) for i in range(labels.max() + 1)]
    if labels.max() >= len(names):
        raise DatasetError(f"view(label_names=...): {len(names)} names, but a label is {labels.max()}")
    return replace(data, labels=labels, label_names=names)
