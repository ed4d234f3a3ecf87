"""Messages from the trainer: plain frozen dataclasses of numbers, so the same stream can feed a
progress bar, a Qt thread, or (if the GIL ever forces it) a spawned process."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

# A checkpoint (weights, optimiser state, fsync) takes 20-40 ms on a CPU and an epoch of the 8x8 digits ~70 ms:
# saving every epoch there costs a third of the speed (bench/bench_training_gui.py), so epochs shorter than
# this save every k-th epoch; stopping, finishing or diverging still saves / keeps one.
MIN_STEPS_BETWEEN_CHECKPOINTS = 500


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    condition: str = "labels"      # CVAE condition: "labels" (one-hot class) or "attributes"
    checkpoint_every: int | None = 0   # steps between checkpoints; 0: every epoch end; None: checkpoint_interval
    event_interval: float = 0.1    # seconds between progress events (about 10 per second)
    check_every: int = 1           # steps between NaN checks; each check synchronises with a GPU
    mirror_shift: bool = False     # mirror half of each batch and shift it a few pixels (training/augment.py)


@dataclass(frozen=True)
class TrainEvent:
    kind: str                      # "progress", "epoch", "checkpoint", "warning", "done", "stopped"
    step: int
    epoch: int
    total_steps: int
    terms: dict[str, float] = field(default_factory=dict)   # mean of each loss term since the last event
    images_per_s: float = 0.0
    elapsed_s: float = 0.0
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 1.0


def checkpoint_interval(steps_per_epoch: int) -> int:
    """What checkpoint_every=None means (the command line's and the editor's default): 0 (every epoch) unless
    epochs are shorter than MIN_STEPS_BETWEEN_CHECKPOINTS steps; then every k-th epoch, so checkpoints still
    fall on epoch ends. Steps, not seconds, so every rank of a distributed run agrees without talking."""
    steps_per_epoch = max(1, int(steps_per_epoch))
    if steps_per_epoch >= MIN_STEPS_BETWEEN_CHECKPOINTS:
        return 0
    return math.ceil(MIN_STEPS_BETWEEN_CHECKPOINTS / steps_per_epoch) * steps_per_epoch
