"""numpy uint8 images -> Qt: pixmaps (for labels and thumbnails) and pyqtgraph ImageItems."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from latent_atlas.editor.core.image_convert import for_display


def show_uint8(item, image: np.ndarray) -> None:
    """(H, W, 1|3) uint8 into a pyqtgraph ImageItem as it is. Levels None, not (0, 255): with levels pyqtgraph
    rescales every pixel by 255/255 before it makes the QImage (a third of a millisecond for a 16-frame 64x64
    colour strip, at every strip of a drag); without, the bytes go to the QImage unchanged."""
    item.setImage(for_display(image), autoLevels=False, levels=None)


def to_qimage(image: np.ndarray) -> QImage:
    """(H, W, 1|3) or (H, W) uint8 -> an owning QImage."""
    image = np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = np.ascontiguousarray(image[..., 0])
    h, w = image.shape[:2]
    if image.ndim == 2:
        return QImage(image.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """Scaled to `size` px on its longer side, nearest-neighbour so pixels stay crisp."""
    return QPixmap.fromImage(to_qimage(image)).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                                      Qt.TransformationMode.FastTransformation)
