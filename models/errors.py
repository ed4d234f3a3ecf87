"""Typed errors, one per family. Each message names the file (when there is one) and the problem."""


class LatentAtlasError(Exception):
    """Base class: the command line prints str(error) on one line and exits 1."""


class CheckpointError(LatentAtlasError):
    """A checkpoint file cannot be read, is unsafe, corrupt, or does not fit its architecture."""


class DatasetError(LatentAtlasError):
    """A dataset cannot be found or read."""


class ConfigError(LatentAtlasError):
    """A model configuration is invalid (sizes out of range, shapes that do not fit)."""


class TrainingDiverged(LatentAtlasError):
    """A loss became NaN or Inf; no checkpoint with non-finite weights is written."""
