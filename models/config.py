"""Frozen model configurations. Every network shape is derived from these, never hard-coded.

Each config validates its own numbers (`check()`), so a hostile checkpoint header cannot ask for a
billion-channel layer: the loader calls `check()` before anything is allocated.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from latent_atlas.models.errors import ConfigError

MAX_SIDE = 512          # largest image side we build networks for
MAX_WIDTH = 2048        # largest channel count / hidden width
MAX_LATENT = 1024
MAX_COND = 1024
MAX_ZOO_BLOCKS = 9      # zoo arch: stride-2 blocks; 2**9 = 512 = MAX_SIDE


def _check_shape(shape: tuple[int, ...]) -> None:
    if len(shape) != 3:
        raise ConfigError(f"image_shape must be (C, H, W), got {shape}")
    c, h, w = shape
    if c not in (1, 3):
        raise ConfigError(f"image_shape channels must be 1 or 3, got {c}")
    if not (4 <= h <= MAX_SIDE and 4 <= w <= MAX_SIDE):
        raise ConfigError(f"image side must be within 4..{MAX_SIDE}, got {h}x{w}")


def _check_range(name: str, value: int, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer within {lo}..{hi}, got {value!r}")


def n_halvings(h: int, w: int, min_side: int = 3, most: int = 4) -> int:
    """How many times both sides halve exactly while staying >= min_side (28 -> 2: 28, 14, 7)."""
    k = 0
    while k < most and h % 2 == 0 and w % 2 == 0 and h // 2 >= min_side and w // 2 >= min_side:
        h, w, k = h // 2, w // 2, k + 1
    return k


@dataclass(frozen=True)
class VAEConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)   # (C, H, W)
    latent_dim: int = 16
    beta: float = 1.0    # KL weight: 0 is a plain autoencoder, >1 trades sharpness for disentanglement
    likelihood: str = "bernoulli"   # "bernoulli" (BCE) or "gaussian" (MSE, unit variance)
    arch: str = "conv"              # "conv", or "mlp" (the PyTorch examples' 784-400-20 VAE)
    width: int = 32                 # conv: channels of the first conv, doubling per halving
    hidden: int = 256               # fully connected width (mlp: 400 in the PyTorch example)
    cond_dim: int = 0               # > 0 makes it a conditional VAE: the decoder sees [z, a]
    consistency: float = 0.0        # CVAE: weight of the condition-consistency term (models/consistency.py)
    condition_kind: str = "labels"  # CVAE: "labels" (one-hot, exclusive) or "attributes" (independent 0/1)
    hidden_dims: tuple[int, ...] = ()   # zoo: channels of each stride-2 block (the PyTorch-VAE zoo's hidden_dims)
    output_range: str = "unit"      # zoo: the images it was trained on: "unit" [0, 1] (its tanh output is the
    #                                 image), "tanh" [-1, 1] (the zoo's code before Dec 2021 fed 2x - 1)

    def check(self) -> None:
        _check_shape(self.image_shape)
        _check_range("latent_dim", self.latent_dim, 1, MAX_LATENT)
        _check_range("width", self.width, 1, MAX_WIDTH)
        _check_range("hidden", self.hidden, 1, 8192)
        _check_range("cond_dim", self.cond_dim, 0, MAX_COND)
        if not (isinstance(self.beta, (int, float)) and 0.0 <= self.beta <= 1e4):
            raise ConfigError(f"beta must be within 0..10000, got {self.beta!r}")
        if not (isinstance(self.consistency, (int, float)) and 0.0 <= self.consistency <= 1e4):
            raise ConfigError(f"consistency must be within 0..10000, got {self.consistency!r}")
        if self.condition_kind not in ("labels", "attributes"):
            raise ConfigError(f"condition_kind must be 'labels' or 'attributes', got {self.condition_kind!r}")
        if self.consistency > 0 and self.cond_dim == 0:
            raise ConfigError("consistency applies to a conditional VAE (cond_dim > 0)")
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ConfigError(f"likelihood must be 'bernoulli' or 'gaussian', got {self.likelihood!r}")
        if self.arch not in ("conv", "mlp", "zoo"):
            raise ConfigError(f"arch must be 'conv', 'mlp' or 'zoo', got {self.arch!r}")
        if self.output_range not in ("unit", "tanh"):
            raise ConfigError(f"output_range must be 'unit' or 'tanh', got {self.output_range!r}")
        if self.arch == "zoo":
            self._check_zoo()
        elif self.hidden_dims or self.output_range != "unit":
            raise ConfigError("hidden_dims and output_range belong to arch 'zoo'")
        if self.arch == "conv" and self.width * 2 ** n_halvings(*self.image_shape[1:]) > 4 * MAX_WIDTH:
            raise ConfigError("conv width too large for this image size")

    def _check_zoo(self) -> None:
        """The PyTorch-VAE zoo's network: each block halves the side, the decoder doubles it back."""
        dims = self.hidden_dims
        if not isinstance(dims, tuple) or not 1 <= len(dims) <= MAX_ZOO_BLOCKS:
            raise ConfigError(f"hidden_dims must list 1..{MAX_ZOO_BLOCKS} block widths, got {dims!r}")
        for d in dims:
            _check_range("hidden_dims entry", d, 1, MAX_WIDTH)
        c, h, w = self.image_shape
        if c != 3 or h != w or h % 2 ** len(dims):
            raise ConfigError(f"a zoo network makes square RGB images whose side is a multiple of "
                              f"2**{len(dims)} (one halving per block), not {self.image_shape}")
        if self.consistency > 0:
            raise ConfigError("consistency is not available for arch 'zoo'")


@dataclass(frozen=True)
class GANConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 64      # nz in the PyTorch DCGAN example (100 there)
    width: int = 64           # ngf = ndf: channels of the last generator / first discriminator layer
    cond_dim: int = 0         # kept for the common interface; conditional GANs are not built yet
    augment: bool = False     # differentiable augmentation of what D sees (models/networks/diff_augment.py)

    def check(self) -> None:
        _check_shape(self.image_shape)
        _check_range("latent_dim", self.latent_dim, 1, MAX_LATENT)
        if not isinstance(self.augment, bool):
            raise ConfigError(f"augment must be true or false, got {self.augment!r}")
        _check_range("width", self.width, 1, MAX_WIDTH)
        _check_range("cond_dim", self.cond_dim, 0, 0)
        if self.width * 2 ** n_halvings(*self.image_shape[1:]) > 4 * MAX_WIDTH:
            raise ConfigError("GAN width too large for this image size")


def config_to_json(config) -> str:
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def config_from_dict(cls, data: dict):
    """Build a config from untrusted JSON: unknown keys and wrong types are errors, then `check()`."""
    if not isinstance(data, dict):
        raise ConfigError(f"config must be a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        default = fields[name].default
        if isinstance(default, tuple):
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                               for v in value):   # JSON: a list
                raise ConfigError(f"config {name} must be a list of integers, got {value!r}")
            value = tuple(value)
        elif isinstance(default, bool) and type(value) is not bool or type(value) is not type(default) and not (
                isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)):
            raise ConfigError(f"config {name} must be {type(default).__name__}, got {value!r}")
        if isinstance(default, float):
            try:
                value = float(value)
            except OverflowError:
                raise ConfigError(f"config {name} is out of range: {str(value)[:40]}") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise ConfigError(f"config {name} must be a finite number")
        values[name] = value
    config = cls(**values)
    config.check()
    return config
