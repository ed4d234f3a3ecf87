"""Checkpoints: one .safetensors file with weights, optimiser and RNG state, and JSON metadata.

Saving is atomic (temp file in the same folder, fsync, os.replace) and refuses non-finite weights.
Loading never unpickles: it sniffs the first bytes, validates the header, the metadata and the shapes
against a model built on the "meta" device (no memory), and only then reads tensors and builds the
real model. A failed load raises CheckpointError and leaves whatever the caller had loaded before.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import safetensors.torch
import torch
from safetensors import safe_open

from latent_atlas.models import registry
from latent_atlas.models.base import GenerativeModel
from latent_atlas.models.checkpoints.atomic_io import atomic_write_bytes
from latent_atlas.models.checkpoints.header import (
    FLOAT_DTYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    FormatProblem,
    check_tensor_budgets,
    check_tensor_names,
    describe_mismatch,
    parse_metadata,
    read_header,
    sniff_format,
)
from latent_atlas.models.checkpoints.state import (
    check_optimizer_shapes,
    detached_copy,
    finite,
    flatten_optimizers,
    flatten_rng,
    flatten_vectors,
    to_json,
    unflatten_optimizers,
    unflatten_rng,
    unflatten_vectors,
)
from latent_atlas.models.config import config_to_json
from latent_atlas.models.errors import CheckpointError, ConfigError

__all__ = ["Checkpoint", "load_checkpoint", "read_header", "save_checkpoint", "save_vectors", "sniff_format"]

MAX_PARAMETERS = 200_000_000   # refuse before allocating: a header must not make us allocate 100s of GB
SAVE_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@dataclass
class Checkpoint:
    path: Path
    kind: str
    config: object                # VAEConfig | GANConfig
    model: GenerativeModel        # weights loaded, eval(), on the requested device
    dataset: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    train_state: dict = field(default_factory=dict)
    optimizer_states: dict = field(default_factory=dict)   # name -> state dict, if with_optimizers
    rng_state: dict = field(default_factory=dict)          # {"torch": ByteTensor, "cuda": [...]} or {}
    vectors: dict = field(default_factory=dict)            # name -> {"vector": (latent_dim,), **info}
    metadata: dict = field(default_factory=dict)           # the raw string metadata


# -- saving ------------------------------------------------------------------------------------------
def save_checkpoint(path, model, *, dataset: dict | None = None, history: dict | None = None,
                    optimizers: dict | None = None, train_state: dict | None = None,
                    rng_state: dict | None = None, vectors: dict | None = None,
                    dtype: torch.dtype | None = None) -> Path:
    """Write `model` and what goes with it to one .safetensors file, atomically."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"could not save {path}: it is a folder")
    if dtype is not None and dtype not in SAVE_DTYPES:
        raise CheckpointError(f"could not save {path}: dtype must be float32, float16 or bfloat16, "
                              f"got {dtype}")
    try:
        registry.config_class(model.kind)
        tensors = _model_tensors(model, dtype)
        optim_tensors, optim_info = flatten_optimizers(optimizers or {})
        vector_tensors, vector_info = flatten_vectors(vectors or {}, model.latent_dim)
        tensors.update(optim_tensors)
        tensors.update(flatten_rng(rng_state or {}))
        tensors.update(vector_tensors)
        metadata = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "kind": model.kind,
            "config": config_to_json(model.config),
            "dataset": to_json(dataset or {}, "dataset"),
            "history": to_json(history or {}, "history"),
            "optim": to_json(optim_info, "optimizer settings"),
            "train_state": to_json(train_state or {}, "train_state"),
            "vectors": to_json(vector_info, "vectors"),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "torch_version": str(torch.__version__),
        }
    except (FormatProblem, ConfigError) as e:
        raise CheckpointError(f"could not save {path}: {e}; no file was written") from None
    _write_atomically(path, tensors, metadata)
    return path


def _model_tensors(model, dtype) -> dict[str, torch.Tensor]:
    tensors = {}
    for key, value in model.state_dict().items():
        name = f"model.{key}"
        tensor = detached_copy(f"tensor {name}", value)
        if not finite(tensor):
            raise FormatProblem(f"tensor {name} has NaN/Inf values")
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
            if not finite(tensor):
                raise FormatProblem(f"tensor {name} has values beyond the range of {dtype}")
        tensors[name] = tensor
    return tensors


def _write_atomically(path: Path, tensors: dict, metadata: dict) -> None:
    """Temp file in the same folder, fsync, os.replace: the final name holds the old or the new file."""
    try:
        data = safetensors.torch.save(tensors, metadata=metadata)
    except Exception as e:
        raise CheckpointError(f"could not save {path}: {e}") from e
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise CheckpointError(f"could not save {path}: {e.strerror or e}") from e


# -- loading -----------------------------------------------------------------------------------------
def load_checkpoint(path, *, device="cpu", with_optimizers: bool = False) -> Checkpoint:
    """Validate everything that can be validated without memory, then read tensors and build the model."""
    path = Path(path)
    header = read_header(path)                               # stat, sniff, header bounds and offsets
    try:
        info = parse_metadata(header["__metadata__"])
        check_tensor_names(header)
        kind = info["kind"]
        config = _parse_config(kind, info["config"])
        _check_fits(header, _build_on_meta(kind, config))
    except (FormatProblem, ConfigError) as e:
        raise CheckpointError(f"{path}: {e}") from None

    wanted = [n for n in header if n != "__metadata__" and (with_optimizers or not n.startswith("optim."))]
    tensors = _read_tensors(path, wanted)
    weights = {n.removeprefix("model."): t for n, t in tensors.items() if n.startswith("model.")}
    for key, tensor in weights.items():
        if not finite(tensor):
            raise CheckpointError(f"{path}: tensor model.{key} has NaN/Inf values")
    with torch.random.fork_rng(devices=[]):      # building draws initial weights: keep the caller's RNG
        model = registry.build_model(kind, config)
    expected = model.state_dict()
    try:
        model.load_state_dict({k: t.to(expected[k].dtype) for k, t in weights.items()}, strict=True)
        model = model.eval().to(device)
    except (RuntimeError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: could not load the weights onto {device}: {str(e)[:300]}") from None

    def part(prefix):
        return {n: t for n, t in tensors.items() if n.startswith(prefix)}
    try:
        rng_state = unflatten_rng(part("rng."))
        vectors = unflatten_vectors(info["vectors"], part("vector."), config.latent_dim)
        optimizer_states = {}
        if with_optimizers:
            optimizer_states = unflatten_optimizers(info["optim"], part("optim."))
            check_optimizer_shapes(optimizer_states, model.make_optimizers(1e-3))
    except FormatProblem as e:
        raise CheckpointError(f"{path}: {e}") from None
    return Checkpoint(path=path, kind=kind, config=config, model=model, dataset=info["dataset"],
                      history=info["history"], train_state=info["train_state"],
                      optimizer_states=optimizer_states, rng_state=rng_state, vectors=vectors,
                      metadata=dict(header["__metadata__"]))


def _parse_config(kind: str, data: dict):
    try:
        return registry.make_config(kind, data)
    except (ValueError, TypeError, OverflowError) as e:   # e.g. a 400-digit beta overflows float()
        raise FormatProblem(f"config does not parse ({str(e)[:200]})") from None


def _build_on_meta(kind: str, config):
    """The model's shapes, no memory. A config that passed check() should build; if not, say so."""
    try:
        return registry.build_model(kind, config, device="meta")
    except (RuntimeError, ValueError, TypeError, ZeroDivisionError) as e:
        raise FormatProblem(f"its config does not build a {kind} ({str(e)[:200]})") from None


def _check_fits(header: dict, meta_model) -> None:
    """Parameter budget, then names, shapes and number kinds of the file's weights against the model."""
    model_sd = meta_model.state_dict()
    total = sum(t.numel() for t in model_sd.values())
    if total > MAX_PARAMETERS:
        raise FormatProblem(f"its config asks for {total:,} parameters, over the {MAX_PARAMETERS:,} limit")
    file_entries = {n.removeprefix("model."): (e["shape"], e["dtype"] in FLOAT_DTYPES)
                    for n, e in header.items() if n.startswith("model.")}
    model_entries = {k: (list(t.shape), t.is_floating_point()) for k, t in model_sd.items()}
    problem = describe_mismatch(file_entries, model_entries)
    if problem:
        raise FormatProblem(f"weights do not fit a {meta_model.kind} with its config: {problem}")
    check_tensor_budgets(header, {k: shape for k, (shape, _) in model_entries.items()}, meta_model.latent_dim)


def _read_tensors(path: Path, names: list[str], clone_weights: bool = False) -> dict[str, torch.Tensor]:
    """Read tensors of an already validated file; any library error becomes a CheckpointError.

    safe_open maps the file, so what we hand out is cloned; weights are not (load_state_dict copies them,
    and a second copy of a large model costs memory), unless `clone_weights`."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return {name: f.get_tensor(name) if name.startswith("model.") and not clone_weights
                    else f.get_tensor(name).clone() for name in names}
    except Exception as e:  # noqa: BLE001 -- whatever the library raises, the caller gets a CheckpointError
        raise CheckpointError(f"{path}: could not read its tensors ({str(e)[:200]})") from None


# -- editing -----------------------------------------------------------------------------------------
def save_vectors(path, vectors: dict) -> None:
    """Replace the attribute vectors of an existing checkpoint, atomically, keeping everything else."""
    path = Path(path)
    header = read_header(path)
    try:
        info = parse_metadata(header["__metadata__"])
        check_tensor_names(header)
        config = _parse_config(info["kind"], info["config"])
        vector_tensors, vector_info = flatten_vectors(vectors, config.latent_dim)
        vectors_json = to_json(vector_info, "vectors")
    except (FormatProblem, ConfigError) as e:
        raise CheckpointError(f"could not save vectors into {path}: {e}") from None
    keep = [n for n in header if n != "__metadata__" and not n.startswith("vector.")]
    tensors = _read_tensors(path, keep, clone_weights=True)
    tensors.update(vector_tensors)
    metadata = dict(header["__metadata__"])
    metadata["vectors"] = vectors_json
    _write_atomically(path, tensors, metadata)
