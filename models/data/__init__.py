"""Datasets as ImageData: built-in (digits, shapes, Fashion-MNIST, MNIST) or loaded from a folder.

numpy and PIL only: the trainer converts to tensors, and nothing here may import Qt.
"""

from latent_atlas.models.data.image_data import ImageData
from latent_atlas.models.data.registry import DATASET_NAMES, load_dataset

__all__ = ["DATASET_NAMES", "ImageData", "load_dataset"]
