"""ImageData: the one in-memory form every loader returns, plus resizing and channel conversion.

Images are (N, C, H, W) uint8 with C in {1, 3}; the trainer converts to float tensors, so this package
needs only numpy and PIL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from latent_atlas.models.errors import DatasetError

# PIL's own RGB -> L weights (ITU-R 601-2 luma, 16-bit fixed point) so numpy and PIL conversions agree
_LUMA = np.array([19595, 38470, 7471], dtype=np.uint32)


@dataclass(frozen=True, eq=False)   # eq=False: == on numpy arrays is ambiguous, compare fields yourself
class ImageData:
    images: np.ndarray             # (N, C, H, W) uint8, C in {1, 3}
    labels: np.ndarray | None      # (N,) int64 class index; -1 = no class (image-folder root next to classes)
    label_names: list[str]         # names for class indices ([] if no labels)
    attributes: np.ndarray | None  # (N, A) float32 in {0., 1.}, or None
    attribute_names: list[str]     # ([] if no attributes)
    name: str                      # "digits", "shapes", "fashion-mnist", "mnist", or folder name
    source: str                    # where it came from (path, "sklearn", "procedural")
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason) per bad file
    factors: np.ndarray | None = None  # shapes only: (N, 5) float32 (shape, scale, rotation, x, y)
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # more (N,) labels by name (emoji: base, tone)

    def __post_init__(self) -> None:
        im = self.images
        if not isinstance(im, np.ndarray) or im.ndim != 4 or im.dtype != np.uint8 \
                or im.shape[1] not in (1, 3):
            raise DatasetError(f"{self.source}: images must be (N, C, H, W) uint8 with C 1 or 3, "
                               f"got {getattr(im, 'shape', None)} {getattr(im, 'dtype', type(im).__name__)}")
        n = im.shape[0]
        if self.labels is not None:
            if self.labels.shape != (n,) or self.labels.dtype != np.int64:
                raise DatasetError(f"{self.source}: labels must be ({n},) int64, "
                                   f"got {self.labels.shape} {self.labels.dtype}")
            if n and (self.labels.max() >= len(self.label_names) or self.labels.min() < -1):
                raise DatasetError(f"{self.source}: a label lies outside 0..{len(self.label_names) - 1}")
        if self.attributes is not None:
            a = len(self.attribute_names)
            if self.attributes.shape != (n, a) or self.attributes.dtype != np.float32:
                raise DatasetError(f"{self.source}: attributes must be ({n}, {a}) float32, "
                                   f"got {self.attributes.shape} {self.attributes.dtype}")
        if self.factors is not None and self.factors.shape != (n, 5):
            raise DatasetError(f"{self.source}: factors must be ({n}, 5), got {self.factors.shape}")
        bad = next((k for k, v in self.columns.items() if getattr(v, "shape", None) != (n,)), None)
        if bad is not None:
            raise DatasetError(f"{self.source}: column '{bad}' must be ({n},), "
                               f"got {getattr(self.columns[bad], 'shape', None)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def describe(self) -> dict:
        """A JSON-able summary for logs, checkpoints and the editor's dataset panel."""
        return {
            "name": self.name,
            "source": self.source,
            "n": len(self),
            "image_shape": list(self.image_shape),
            "label_names": list(self.label_names),
            "attribute_names": list(self.attribute_names),
            "n_skipped": len(self.skipped),
        }

    def subset(self, idx: np.ndarray) -> ImageData:
        """The items at idx (integer indices or a boolean mask), in that order; skipped is kept."""
        idx = np.asarray(idx)

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return replace(self, images=self.images[idx], labels=pick(self.labels),
                       attributes=pick(self.attributes), factors=pick(self.factors),
                       columns={k: v[idx] for k, v in self.columns.items()}, skipped=list(self.skipped))

    def conditions(self, spec: str = "labels") -> tuple[np.ndarray, list[str]]:
        """Condition vectors for a conditional model: (N, K) float32 and their K names.

        "labels": one-hot class vectors (an image without a class, label -1, gets all zeros);
        "attributes": the binary attribute table.
        """
        if spec == "labels":
            if self.labels is None:
                raise DatasetError(f"{self.source}: dataset '{self.name}' has no class labels "
                                   f"to condition on")
            onehot = np.zeros((len(self), len(self.label_names)), dtype=np.float32)
            has = self.labels >= 0
            onehot[np.nonzero(has)[0], self.labels[has]] = 1.0
            return onehot, list(self.label_names)
        if spec == "attributes":
            if self.attributes is None:
                raise DatasetError(f"{self.source}: dataset '{self.name}' has no attributes to condition on")
            return self.attributes.copy(), list(self.attribute_names)
        raise DatasetError(f"unknown condition kind '{spec}': use 'labels' or 'attributes'")

    def resized(self, size: int) -> ImageData:
        """Every image centre-cropped to a square and resized to size x size (LANCZOS)."""
        if self.image_shape[1:] == (size, size):
            return self
        return replace(self, images=resize_images(self.images, size))

    def with_channels(self, channels: int) -> ImageData:
        """Grayscale (1) or RGB (3) copy; RGB -> gray uses PIL's luma weights."""
        if self.image_shape[0] == channels:
            return self
        return replace(self, images=convert_channels(self.images, channels))


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, C, size, size) uint8, centre-cropping non-square images first."""
    n, c = images.shape[:2]
    out = np.empty((n, c, size, size), dtype=np.uint8)
    hwc = images.transpose(0, 2, 3, 1)
    for i in range(n):
        img = Image.fromarray(hwc[i, :, :, 0] if c == 1 else np.ascontiguousarray(hwc[i]))
        img = square_resize(img, size)
        arr = np.asarray(img)
        out[i] = arr[None] if c == 1 else arr.transpose(2, 0, 1)
    return out


def square_resize(img: Image.Image, size: int) -> Image.Image:
    """Centre-crop to the largest square, then resize with LANCZOS (no distortion of aspect ratio)."""
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    if (w, h) != (s, s):
        img = img.crop((left, top, left + s, top + s))
    if s != size:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return img


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """(N, C, H, W) uint8 with C in {1, 3} -> the same with `channels` channels."""
    if channels not in (1, 3):
        raise DatasetError(f"channels must be 1 or 3, got {channels}")
    c = images.shape[1]
    if c == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=1)
    rgb = images.astype(np.uint32)
    weighted = rgb[:, 0] * _LUMA[0] + rgb[:, 1] * _LUMA[1] + rgb[:, 2] * _LUMA[2]   # (N, H, W)
    return ((weighted + 0x8000) >> 16).astype(np.uint8)[:, None]
