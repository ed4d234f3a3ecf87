"""Explicit import of pickle-based PyTorch checkpoints: the PyTorch examples' VAE and DCGAN, and the
PyTorch-VAE zoo's VanillaVAE / BetaVAE and ConditionalVAE (Lightning .ckpt or plain state dict).

Pickle files are read only here, only with `torch.load(weights_only=True)`, and never retried without
it: a file that needs more than tensors and plain containers is refused. The architecture is inferred
from the tensor shapes, the weights are mapped key for key onto ours, and the result is written with
`save_checkpoint`, so the converted file opens and decodes exactly as the original network did.
"""
from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import safetensors.torch
import torch

from latent_atlas.models import registry
from latent_atlas.models.checkpoints.checkpoint import MAX_PARAMETERS, save_checkpoint
from latent_atlas.models.checkpoints.header import FORMAT_NAME, checked_size, read_header, sniff_format
from latent_atlas.models.checkpoints.zoo_convert import (
    ZOO_ARCHS,
    read_condition_names,
    zoo_arch,
    zoo_config_values,
)
from latent_atlas.models.config import GANConfig, VAEConfig
from latent_atlas.models.errors import CheckpointError, ConfigError

ARCHS = ("pytorch-vae", "pytorch-dcgan", *ZOO_ARCHS)
OUTPUT_RANGES = ("unit", "tanh")
SAFE_TORCH = (2, 6)   # before 2.6, weights_only=True could be bypassed (CVE-2025-32434)
MAX_ENTRIES = 10_000   # tensors in a file to convert: a zoo Lightning file with its optimiser holds ~300
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
VAE_KEYS = {f"{layer}.{p}" for layer in ("fc1", "fc21", "fc22", "fc3", "fc4") for p in ("weight", "bias")}


def convert_checkpoint(src, arch: str | None, out, *, discriminator: str | Path | None = None,
                       image_size: int | None = None, channels: int | None = None,
                       condition_names: str | Path | None = None, output_range: str = "unit") -> Path:
    """Convert a PyTorch state dict file of `arch` (None: recognised from its tensors) into a Latent Atlas
    checkpoint at `out`. `condition_names`: a text file naming a conditional model's conditions."""
    src, out = Path(src), Path(out)
    if arch is not None and arch not in ARCHS:
        raise CheckpointError(f"{src}: unknown architecture {arch!r} (choose {', '.join(ARCHS)})")
    if output_range not in OUTPUT_RANGES:
        raise CheckpointError(f"{src}: unknown output range {output_range!r} (choose {', '.join(OUTPUT_RANGES)})")
    if discriminator is not None and arch not in (None, "pytorch-dcgan"):
        raise CheckpointError(f"{src}: a discriminator file only goes with --arch pytorch-dcgan")
    inputs = [src] + [Path(p) for p in (discriminator, condition_names) if p is not None]
    if any(out.resolve() == p.resolve() for p in inputs):
        raise CheckpointError(f"{out}: the output would overwrite an input file; choose another --out")
    state, what = read_weights(src)
    arch = arch or detect_arch(src, state, what)
    if discriminator is not None and arch != "pytorch-dcgan":
        raise CheckpointError(f"{src}: a discriminator file only goes with a DCGAN generator, not {arch}")
    if condition_names is not None and arch != "zoo-cvae":
        raise CheckpointError(f"{src}: --condition-names goes with a conditional model; this is {arch}")
    if output_range != "unit" and arch not in ZOO_ARCHS:
        raise CheckpointError(f"{src}: --output-range applies to the zoo's networks, not {arch}")
    extra = {}
    if arch in ZOO_ARCHS:
        model = _zoo_from_state(src, state, arch, image_size, channels, output_range)
        if condition_names is not None:
            extra = {"condition_names": read_condition_names(condition_names, model.cond_dim)}
        if model.cond_dim:
            extra["condition"] = "attributes"     # the zoo's CVAE reads CelebA's 40 independent 0/1 attributes
    elif arch == "pytorch-vae":
        model = _vae_from_state(src, state, image_size, channels)
    else:
        netd = read_state_dict(Path(discriminator)) if discriminator is not None else None
        model = _dcgan_from_state(src, state, netd, image_size, channels)
        extra = {"discriminator": f"converted from {Path(discriminator).name}" if netd is not None
                 else "not converted"}   # untrained: the editor flags its realness scores as meaningless
    dataset = {"name": f"unknown (converted from {src.name})", "image_shape": list(model.image_shape),
               "converted_from": src.name, "converted_arch": arch, **extra}
    return save_checkpoint(out, model, dataset=dataset)


def torch_is_safe(version: str | None = None) -> bool:
    match = re.match(r"(\d+)\.(\d+)", str(version if version is not None else torch.__version__))
    return bool(match) and (int(match[1]), int(match[2])) >= SAFE_TORCH


def detect_arch(src: Path, sd: dict, what: str) -> str:
    """The layout of a state dict, from its tensor names (its shapes are checked when it is mapped)."""
    arch = zoo_arch(sd)
    if arch is None and set(sd) == VAE_KEYS:
        arch = "pytorch-vae"
    if arch is None and all(k.startswith("main.") for k in sd):
        arch = "pytorch-dcgan"
    if arch is None:
        keys = ", ".join(k[:60] for k in list(sd)[:4])
        if what.startswith("a Lightning"):
            raise CheckpointError(f"{src}: {what} whose state_dict holds no VanillaVAE or ConditionalVAE "
                                  f"weights of the PyTorch-VAE zoo (found keys like {keys})")
        raise CheckpointError(f"{src}: {what} of no layout that convert knows (the PyTorch-VAE zoo's "
                              "VanillaVAE, BetaVAE or ConditionalVAE; the PyTorch examples' VAE or DCGAN "
                              f"generator): found keys like {keys}")
    return arch


def read_state_dict(src: Path) -> dict[str, torch.Tensor]:
    """name -> tensor from a torch.save file (weights_only) or a plain safetensors file."""
    return read_weights(src)[0]


def read_weights(src: Path) -> tuple[dict[str, torch.Tensor], str]:
    """(name -> tensor, what held them: 'a state dict', 'a Lightning checkpoint ...'), see read_state_dict."""
    checked_size(src)
    fmt = sniff_format(src)
    if fmt == "safetensors":
        header = read_header(src)
        if header["__metadata__"].get("format") == FORMAT_NAME:
            raise CheckpointError(f"{src} is already a Latent Atlas checkpoint; open it directly")
        _check_count(src, len(header) - 1)
        try:
            obj = safetensors.torch.load_file(str(src))
        except Exception as e:  # noqa: BLE001 -- any library error becomes a CheckpointError
            raise CheckpointError(f"{src}: could not read its tensors ({str(e)[:200]})") from None
    elif fmt in ("pytorch-zip", "pickle"):
        if not torch_is_safe():
            raise CheckpointError(f"{src}: torch {torch.__version__} is older than 2.6, whose weights_only "
                                  "loading can be bypassed (CVE-2025-32434); upgrade torch (pip install -U "
                                  "'torch>=2.6') to convert pickle checkpoints")
        if fmt == "pytorch-zip":
            _check_count(src, _archive_records(src))
        try:
            obj = torch.load(src, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 -- never retried without weights_only: that runs code
            if "Weights only load failed" not in str(e):     # a cut or damaged file, not a refused object
                raise CheckpointError(f"{src}: could not be read as a PyTorch file (truncated or damaged?): "
                                      f"{_short_reason(e)}") from None
            raise CheckpointError(f"{src}: not a plain tensor state dict (weights_only load refused it: "
                                  f"{_short_reason(e)})") from None
    else:
        raise CheckpointError(f"{src}: not a PyTorch checkpoint (neither a torch.save archive nor a pickle)")
    return _unwrap(src, obj)


def _archive_records(src: Path) -> int:
    """How many tensor storages a torch.save archive holds, from its zip directory (nothing unpickled)."""
    try:
        with zipfile.ZipFile(src) as archive:
            return sum(1 for name in archive.namelist() if "/data/" in name)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"{src}: could not be read as a PyTorch file (truncated or damaged?): "
                              f"{str(e)[:200]}") from None


def _check_count(src: Path, count: int) -> None:
    if count > MAX_ENTRIES:
        raise CheckpointError(f"{src}: holds {count:,} tensors, over the {MAX_ENTRIES:,} a network to "
                              "convert may have; not read")


def _check_tensors(src: Path, sd: dict) -> None:
    """Dense, real, floating-point tensors with data (integer ones only where a counter is expected):
    a meta tensor has no values, a sparse one no dense layout, a complex one would lose its imaginary part."""
    for key, t in sd.items():
        name = str(key)[:80]
        if t.is_meta:
            raise CheckpointError(f"{src}: tensor {name} has no values (a meta tensor, saved without its data)")
        if t.layout != torch.strided:
            raise CheckpointError(f"{src}: tensor {name} is sparse ({str(t.layout).removeprefix('torch.')}); "
                                  "convert takes the dense tensors a network is saved with")
        if t.dtype not in FLOAT_DTYPES and not (key.endswith("num_batches_tracked") and t.dtype == torch.int64):
            raise CheckpointError(f"{src}: tensor {name} holds {str(t.dtype).removeprefix('torch.')} values, "
                                  "not floating-point weights")


def _short_reason(error: Exception) -> str:
    """The line of torch's message that says what was refused, without its advice to load unsafely."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if "Unsupported" in line or "WeightsUnpickler error" in line:
            return line.split(". ")[0][:200]      # the next sentence suggests allowlisting the global
    return (lines[0] if lines else type(error).__name__)[:200]


def _unwrap(src: Path, obj) -> tuple[dict[str, torch.Tensor], str]:
    """A state dict, or a dict holding one under "state_dict" or "model" (a Lightning checkpoint holds it
    under "state_dict"); "module." prefixes dropped, and a "model." prefix that every key carries (a
    LightningModule whose network is its `model` attribute, as the zoo's VAEXperiment)."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{src}: holds a {type(obj).__name__}, not a state dict (a dict of tensors)")
    if not obj:
        raise CheckpointError(f"{src}: holds an empty dict, no tensors (expected a network's state dict)")
    _check_count(src, len(obj))
    what = "a state dict"
    if "pytorch-lightning_version" in obj:
        what = f"a Lightning checkpoint (pytorch-lightning {str(obj['pytorch-lightning_version'])[:20]})"
        inner = obj.get("state_dict")
        if not _is_state_dict(inner):
            found = f"a {type(inner).__name__}" if not isinstance(inner, Mapping) else (
                "empty" if not inner else "a dict that is not all tensors")
            raise CheckpointError(f"{src}: {what} whose state_dict is {found}, not the network's tensors")
        obj = inner
    elif not _is_state_dict(obj):
        inner = next((obj[k] for k in ("state_dict", "model") if k in obj and _is_state_dict(obj[k])), None)
        if inner is None:
            bad = next((k for k, v in obj.items() if not isinstance(v, torch.Tensor)), None)
            raise CheckpointError(f"{src}: not a state dict: entry {str(bad)[:60]!r} is a "
                                  f"{type(obj.get(bad)).__name__}, not a tensor (expected a dict of tensors, "
                                  "or one under 'state_dict' or 'model')")
        obj = inner
        what = "a dict holding a state dict"
    _check_count(src, len(obj))
    _check_tensors(src, obj)
    sd = {k.removeprefix("module."): v for k, v in obj.items()}
    if all(k.startswith("model.") for k in sd):
        sd = {k.removeprefix("model."): v for k, v in sd.items()}
    return sd, what


def _is_state_dict(obj) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _vae_from_state(src: Path, sd: dict, image_size: int | None, channels: int | None):
    """The PyTorch examples' vae/main.py: fc1 (H, P), fc21/fc22 (L, H), fc3 (H, L), fc4 (P, H)."""
    if set(sd) != VAE_KEYS:
        missing, extra = sorted(VAE_KEYS - set(sd)), sorted(set(sd) - VAE_KEYS)
        raise CheckpointError(f"{src}: not the PyTorch example VAE (missing: {', '.join(missing) or 'none'}; "
                              f"unexpected: {', '.join(extra[:10]) or 'none'})")
    w1, w21 = sd["fc1.weight"], sd["fc21.weight"]
    if w1.dim() != 2 or w21.dim() != 2:
        raise CheckpointError(f"{src}: fc1.weight and fc21.weight must be matrices")
    hidden, pixels = w1.shape
    c = channels or 1
    side = math.isqrt(pixels // c) if pixels % c == 0 else 0
    if c * side * side != pixels:
        raise CheckpointError(f"{src}: fc1 takes {pixels} inputs, which is not {c} x H x H for any H "
                              "(pass --channels if the images have 3 channels)")
    if image_size is not None and image_size != side:
        raise CheckpointError(f"{src}: fc1 takes {c} x {side} x {side} images, "
                              f"not {image_size} x {image_size}")
    config = _config(src, VAEConfig, arch="mlp", hidden=int(hidden), latent_dim=int(w21.shape[0]),
                     image_shape=(c, side, side), likelihood="bernoulli", beta=1.0)
    return _filled(src, "vae", config, sd)


def _zoo_from_state(src: Path, sd: dict, arch: str, image_size: int | None, channels: int | None,
                    output_range: str):
    """The PyTorch-VAE zoo's VanillaVAE / BetaVAE or ConditionalVAE; sizes from zoo_config_values."""
    values = zoo_config_values(src, sd, arch, image_size)
    if channels is not None and channels != values["image_shape"][0]:
        raise CheckpointError(f"{src}: this {ZOO_ARCHS[arch]} makes {values['image_shape'][0]}-channel images, "
                              f"not {channels}")
    config = _config(src, VAEConfig, **values, output_range=output_range)
    return _filled(src, "cvae" if arch == "zoo-cvae" else "vae", config, sd)


def _dcgan_from_state(src: Path, sd: dict, netd: dict | None, image_size: int | None, channels: int | None):
    """The PyTorch examples' dcgan/main.py netG: ConvTranspose2d at main.0, main.3, ..., Tanh at the end."""
    if not all(k.startswith("main.") for k in sd):
        raise CheckpointError(f"{src}: not a DCGAN generator (its keys do not start with 'main.')")
    convs = sorted(int(m[1]) for k in sd if (m := re.fullmatch(r"main\.(\d+)\.weight", k))
                   and sd[k].dim() == 4 and int(m[1]) % 3 == 0)
    if len(convs) < 2 or convs != [3 * i for i in range(len(convs))]:
        raise CheckpointError(f"{src}: not a DCGAN generator (expected ConvTranspose2d weights at main.0, "
                              "main.3, main.6, ...)")
    first, last = sd["main.0.weight"], sd[f"main.{convs[-1]}.weight"]
    nz, kernel = int(first.shape[0]), int(first.shape[2])
    ngf, nc = int(last.shape[0]), int(last.shape[1])
    side = kernel * 2 ** (len(convs) - 1)     # first layer: 1 x 1 -> kernel; each later one doubles
    if image_size is not None and image_size != side:
        raise CheckpointError(f"{src}: this generator makes {side} x {side} images, "
                              f"not {image_size} x {image_size}")
    if channels is not None and channels != nc:
        raise CheckpointError(f"{src}: this generator makes {nc}-channel images, not {channels}")
    config = _config(src, GANConfig, image_shape=(nc, side, side), latent_dim=nz, width=ngf)
    full = {f"generator.{k}": v for k, v in sd.items()}
    if netd is not None:
        ndf = netd.get("main.0.weight")
        if ndf is not None and ndf.dim() == 4 and int(ndf.shape[0]) != ngf:
            raise CheckpointError(f"{src}: the discriminator's width ndf={int(ndf.shape[0])} differs from "
                                  f"the generator's ngf={ngf}; Latent Atlas GANs use one width for both")
        full.update({f"discriminator.{k}": v for k, v in netd.items()})
    return _filled(src, "gan", config, full, keep_prefix=None if netd is not None else "discriminator.")


def _config(src: Path, cls, **values):
    try:
        config = cls(**values)
        config.check()
    except ConfigError as e:
        raise CheckpointError(f"{src}: the inferred architecture is not supported: {e}") from None
    return config


def _filled(src: Path, kind: str, config, sd: dict, keep_prefix: str | None = None):
    """A fresh model with the file's tensors, after checking every name and shape."""
    size = sum(t.numel() for t in registry.build_model(kind, config, device="meta").state_dict().values())
    if size > MAX_PARAMETERS:
        raise CheckpointError(f"{src}: the inferred {kind} has {size:,} parameters, over the "
                              f"{MAX_PARAMETERS:,} limit")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)    # the fresh parts (an unconverted discriminator) are the same on every run
        model = registry.build_model(kind, config)
    expected = model.state_dict()
    if keep_prefix is not None:
        sd = {**{k: v for k, v in expected.items() if k.startswith(keep_prefix)}, **sd}
    problems = [f"{k}: file {list(v.shape)}, model {list(expected[k].shape)}"
                for k, v in sd.items() if k in expected and v.shape != expected[k].shape]
    missing, unexpected = sorted(expected.keys() - sd.keys()), sorted(sd.keys() - expected.keys())
    if problems or missing or unexpected:
        parts = problems[:10] + ([f"missing: {', '.join(missing[:10])}"] if missing else []) \
            + ([f"unexpected: {', '.join(unexpected[:10])}"] if unexpected else [])
        raise CheckpointError(f"{src}: does not map onto a {kind} with {config}: {'; '.join(parts)}")
    for key, value in sd.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(f"{src}: tensor {key} has NaN/Inf values; not converted")
    try:
        model.load_state_dict({k: v.to(expected[k].dtype) for k, v in sd.items()}, strict=True)
    except (RuntimeError, ValueError, TypeError) as e:   # e.g. sparse or complex tensors
        raise CheckpointError(f"{src}: its tensors do not load into a {kind}: {str(e)[:200]}") from None
    return model.eval()
