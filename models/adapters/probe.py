"""adapt(net, ...) -> ModuleModel: read what a user's module does not say from the module itself.

latent shape: an argument, else an attribute (latent_dim, z_dim, nz, latent_shape, ...), else one encode of
the data; image shape: an argument, else the decoder's output, else the data; output range: an argument, else
a few probe decodes (all in [0, 1]: sigmoid; in [-1, 1]: tanh). What cannot be read is a ConfigError that
names the argument to pass. Probes run under no_grad on the module's own device, in eval mode.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import replace

import numpy as np
import torch

from latent_atlas.models.adapters.module_model import (LIKELIHOODS, RANGES, ModuleConfig, ModuleModel,
                                                       first_tensor, posterior)
from latent_atlas.models.data import ImageData
from latent_atlas.models.errors import ConfigError

LATENT_ATTRS = ("latent_shape", "latent_dim", "z_dim", "zdim", "latent_size", "nz", "n_latent", "dim_z",
                "latent_channels")
COND_ATTRS = ("cond_dim", "num_classes", "n_classes", "condition_dim", "y_dim", "num_conditions")
IMAGE_ATTRS = ("image_shape", "img_shape", "input_shape")
PROBES = 16


def adapt(net, *, data: ImageData | None = None, data_range: str | None = None, kind: str | None = None,
          latent_dim: int | None = None, latent_shape=None, image_shape=None, output_range: str | None = None,
          input_range: str | None = None, cond_dim: int | None = None, likelihood: str | None = None,
          sigma: float = 1.0, name: str | None = None) -> ModuleModel:
    name = name or type(net).__name__
    has_decode = callable(getattr(net, "decode", None))
    if kind not in (None, "vae", "cvae", "gan"):
        raise ConfigError(f"kind must be 'vae', 'cvae' or 'gan', got {kind!r}")
    gan = kind == "gan" or (kind is None and not callable(getattr(net, "encode", None)))
    if not has_decode and not (gan and callable(net)):
        raise ConfigError(f"{name} has no decode(z) method (a GAN's generator is called as net(z): "
                          "pass kind='gan')")
    for arg, value, allowed in (("output_range", output_range, RANGES), ("input_range", input_range, RANGES[:2]),
                                ("likelihood", likelihood, LIKELIHOODS)):
        if value is not None and value not in allowed:
            raise ConfigError(f"{arg} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    if not (isinstance(sigma, (int, float)) and 0 < sigma < 1e3):
        raise ConfigError(f"sigma must be a positive number, got {sigma!r}")
    decode = net.decode if has_decode else net
    cond = _cond_dim(net, decode, cond_dim, name)
    if hasattr(net, "eval"):
        net.eval()                                   # BatchNorm and dropout as at test time
    device = _device_of(net)
    with torch.no_grad():
        shapes = _latent_candidates(net, data, latent_dim, latent_shape, cond, device, gan, input_range,
                                    data_range, name)
        latent, out = _first_that_decodes(decode, shapes, cond, device, name)
        img = _image_shape(out, image_shape, data, net, name)
        rng = output_range or _output_range(out, name)
        config = ModuleConfig(image_shape=img, latent_shape=latent, cond_dim=cond, output_range=rng,
                              input_range=input_range or data_range or ("tanh" if rng == "tanh" else "unit"),
                              likelihood=likelihood, sigma=float(sigma), gan=gan)
        model = ModuleModel(net, config)
        if model.can_encode:
            config = _check_encoder(model, data, name)
            model = ModuleModel(net, config)
    return model.eval()                              # left in eval: the editor only ever evaluates it


def _device_of(net) -> torch.device:
    params = net.parameters() if hasattr(net, "parameters") else iter(())
    first = next(iter(params), None)
    return first.device if first is not None else torch.device("cpu")


def _required_positional(fn) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    return sum(1 for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               and p.default is p.empty)


def _cond_dim(net, decode, cond_dim, name) -> int:
    if cond_dim is not None:
        if not isinstance(cond_dim, int) or cond_dim < 0:
            raise ConfigError(f"cond_dim must be a whole number >= 0, got {cond_dim!r}")
        return cond_dim
    for attr in COND_ATTRS:
        value = getattr(net, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    if _required_positional(decode) >= 2:
        raise ConfigError(f"{name}.decode takes a condition, but how many entries it has is missing: "
                          "pass condition_names=[...] (or cond_dim=)")
    return 0


def _latent_candidates(net, data, latent_dim, latent_shape, cond, device, gan, input_range, data_range, name):
    if latent_shape is not None:
        return [_shape(latent_shape, "latent_shape")]
    if latent_dim is None:
        for attr in LATENT_ATTRS:
            value = getattr(net, attr, None)
            if isinstance(value, (tuple, list, torch.Size)) and all(isinstance(v, int) for v in value):
                return [_shape(value, attr)]
            if isinstance(value, int) and value > 0:
                latent_dim = value
                break
    if latent_dim is not None:
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ConfigError(f"latent_dim must be a whole number >= 1, got {latent_dim!r}")
        return [(latent_dim,), (latent_dim, 1, 1)]       # a DCGAN generator wants (B, nz, 1, 1)
    if data is not None and not gan and callable(getattr(net, "encode", None)):
        x = torch.from_numpy(data.images[:2]).float().div(255).to(device)
        if (input_range or data_range) == "tanh":
            x = x * 2 - 1
        c = torch.zeros(len(x), cond, device=device) if cond else None
        try:
            mean, _ = posterior(net.encode(x) if c is None else net.encode(x, c))
        except Exception as e:                                         # the user's code: any error
            raise ConfigError(f"{name}.encode failed on two images of the data {tuple(x.shape)}\n"
                              f"{type(e).__name__}: {e}") from None
        return [tuple(mean.shape[1:])]
    raise ConfigError(f"latent_dim is missing: {name} has no latent_dim attribute"
                      + ("" if gan else " and there is no data to encode") + ": pass latent_dim= "
                      "(or latent_shape= for a spatial latent such as (4, 8, 8))")


def _shape(value, what) -> tuple[int, ...]:
    shape = tuple(int(v) for v in value)
    if not shape or any(v < 1 for v in shape) or math.prod(shape) > 1 << 20:
        raise ConfigError(f"{what} must be positive sizes, at most 2^20 numbers in all, got {value!r}")
    return shape


def _first_that_decodes(decode, shapes, cond, device, name):
    errors = []
    g = torch.Generator().manual_seed(0)
    for shape in shapes:
        z = torch.randn(PROBES, *shape, generator=g).to(device)
        c = None
        if cond:
            c = torch.nn.functional.one_hot(torch.arange(PROBES) % cond, cond).float().to(device)
        try:
            out = first_tensor(decode(z) if c is None else decode(z, c), f"{name}.decode")
        except ConfigError:
            raise
        except Exception as e:                                         # the user's code: any error
            errors.append(f"latent {tuple(z.shape)}: {type(e).__name__}: {e}")
            continue
        if out.shape[0] != PROBES:
            raise ConfigError(f"{name}.decode turned {PROBES} latents into {out.shape[0]} outputs "
                              f"(shape {tuple(out.shape)})")
        return shape, out.float()
    raise ConfigError(f"{name}.decode failed on a prior sample: check latent_dim/latent_shape\n"
                      + "; ".join(errors))


def _image_shape(out, image_shape, data, net, name) -> tuple[int, int, int]:
    per = out.shape[1:]
    if image_shape is None:
        image_shape = next((getattr(net, a) for a in IMAGE_ATTRS if isinstance(getattr(net, a, None),
                                                                               (tuple, list, torch.Size))), None)
    if image_shape is None and len(per) == 3:
        image_shape = tuple(per)
    if image_shape is None and data is not None:
        image_shape = data.image_shape
    if image_shape is None:
        side = math.isqrt(per.numel())
        if side * side == per.numel():
            image_shape = (1, side, side)
    if image_shape is None:
        raise ConfigError(f"image_shape is missing: {name}.decode returns {tuple(per)} per image; pass "
                          "image_shape=(C, H, W) or data=")
    if len(image_shape) == 2:
        image_shape = (1, *image_shape)
    image_shape = tuple(int(v) for v in image_shape)
    if len(image_shape) != 3 or image_shape[0] not in (1, 3) or min(image_shape) < 1:
        raise ConfigError(f"{name}: image_shape must be (C, H, W) with 1 or 3 channels, got {image_shape}")
    if math.prod(image_shape) != per.numel():
        raise ConfigError(f"{name}.decode returns {tuple(per)} per image, which is not an image of "
                          f"shape {image_shape}")
    if data is not None and data.image_shape != image_shape:
        raise ConfigError(f"{name} makes {image_shape} images but the data holds {data.image_shape}")
    return image_shape


def _output_range(out, name) -> str:
    lo, hi = float(out.min()), float(out.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ConfigError(f"{name}.decode returned NaN or infinite values on prior samples")
    if lo >= -1e-4 and hi <= 1 + 1e-4:
        return "unit"
    if lo >= -1 - 1e-4 and hi <= 1 + 1e-4:
        return "tanh"
    raise ConfigError(f"{name}.decode's outputs span [{lo:.3g}, {hi:.3g}], neither [0, 1] nor [-1, 1]: pass "
                      "output_range='logits' if they are logits (a sigmoid is applied), or end the decoder with "
                      "a sigmoid or tanh")


def _check_encoder(model: ModuleModel, data, name) -> ModuleConfig:
    x = (torch.from_numpy(data.images[:2]).float().div(255) if data is not None
         else model.decode(model.prior_sample(2), _probe_condition(model, 2)))
    try:
        out = model.net.encode(*_encoder_args(model, x))
    except Exception as e:                                             # the user's code: any error
        raise ConfigError(f"{name}.encode failed on two {tuple(x.shape[1:])} images\n"
                          f"{type(e).__name__}: {e}") from None
    mean, logvar = posterior(out)
    if mean.shape[0] != 2 or mean[0].numel() != model.latent_dim:
        raise ConfigError(f"{name}.encode gives latents of {mean[0].numel()} numbers but decode takes "
                          f"{model.latent_dim} ({model.config.latent_shape})")
    if logvar is not None and logvar.shape != mean.shape:
        raise ConfigError(f"{name}.encode's log-variance has shape {tuple(logvar.shape)}, its mean "
                          f"{tuple(mean.shape)}")
    return replace(model.config, encoder_gives_logvar=logvar is not None)


def _probe_condition(model, n):
    if not model.cond_dim:
        return None
    return torch.nn.functional.one_hot(torch.arange(n) % model.cond_dim, model.cond_dim).float()


def _encoder_args(model, x):
    x = x.to(model.device)
    if model.config.input_range == "tanh":
        x = x * 2 - 1
    c = _probe_condition(model, len(x))
    return (x,) if c is None else (x, c.to(model.device))
