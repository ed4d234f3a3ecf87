"""Flattening what a checkpoint carries besides weights into named tensors + JSON, and back.

Optimiser state dicts become `optim.<name>.<param index>.<key>` tensors plus their param_groups and
non-tensor state in JSON; RNG states become `rng.torch` / `rng.cuda.<i>`; attribute vectors become
`vector.<name>`. Unflattening validates everything it reads, raising `FormatProblem`.
"""
from __future__ import annotations

import json
import os

import torch

from latent_atlas.models.checkpoints.header import FormatProblem

SAVABLE_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                  torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}
_DTYPE_NAMES = {str(d).removeprefix("torch."): d for d in SAVABLE_DTYPES}


def detached_copy(name: str, tensor) -> torch.Tensor:
    """A contiguous CPU copy sharing no memory (safetensors refuses shared or strided tensors)."""
    if not isinstance(tensor, torch.Tensor):
        raise FormatProblem(f"{name} is a {type(tensor).__name__}, not a tensor")
    if tensor.dtype not in SAVABLE_DTYPES:
        raise FormatProblem(f"{name} has dtype {tensor.dtype}, which the format does not store")
    return tensor.detach().to("cpu", copy=True).contiguous()


def to_json(value, what: str) -> str:
    def convert(obj):
        if hasattr(obj, "tolist") and callable(obj.tolist):   # tensors, numpy arrays and scalars
            return obj.tolist()
        if isinstance(obj, os.PathLike):
            return os.fspath(obj)
        raise TypeError(f"a {type(obj).__name__} is not JSON-serialisable")
    try:
        return json.dumps(value, default=convert)
    except (TypeError, ValueError, RecursionError) as e:
        raise FormatProblem(f"{what} cannot be stored as JSON: {e}") from None


# -- optimisers --------------------------------------------------------------------------------------
def _encode_value(value):
    """param_group values: JSON as is; tuples and tensors tagged so they come back as they were."""
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_value(v) for v in value]}
    if isinstance(value, list):
        return [_encode_value(v) for v in value]
    if isinstance(value, torch.Tensor):
        if value.dtype not in SAVABLE_DTYPES:
            raise FormatProblem(f"optimizer setting of dtype {value.dtype} cannot be stored")
        return {"__tensor__": value.detach().cpu().tolist(), "dtype": str(value.dtype).removeprefix("torch.")}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise FormatProblem(f"optimizer setting of type {type(value).__name__} cannot be stored")


def _decode_value(value):
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(_decode_value(v) for v in value["__tuple__"])
        if set(value) == {"__tensor__", "dtype"} and value["dtype"] in _DTYPE_NAMES:
            try:
                return torch.tensor(value["__tensor__"], dtype=_DTYPE_NAMES[value["dtype"]])
            except (TypeError, ValueError, RuntimeError, OverflowError):
                raise FormatProblem("optimizer setting holds a malformed tensor") from None
        raise FormatProblem("optimizer settings hold an unknown object")
    return value


def flatten_optimizers(optimizers: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """name -> Optimizer (or its state_dict) => tensors `optim.<name>.<index>.<key>` and JSON info."""
    if not isinstance(optimizers, dict):
        raise FormatProblem(f"optimizers must be a dict of name -> optimizer, "
                            f"got {type(optimizers).__name__}")
    tensors, info = {}, {}
    for name, opt in optimizers.items():
        if not isinstance(name, str) or not name or "." in name:
            raise FormatProblem(f"optimizer name {name!r} must be a non-empty string without dots")
        sd = opt.state_dict() if hasattr(opt, "state_dict") else opt
        if not isinstance(sd, dict) or not isinstance(sd.get("state"), dict) \
                or not isinstance(sd.get("param_groups"), list):
            raise FormatProblem(f"optimizer {name!r} has no state/param_groups state dict")
        scalars = {}
        for index, state in sd["state"].items():
            if not isinstance(index, int) or isinstance(index, bool):
                raise FormatProblem(f"optimizer {name!r} state is keyed by {index!r}, not a parameter index")
            for key, value in state.items():
                if isinstance(value, torch.Tensor):
                    what = f"optimizer {name} state {key}"
                    tensors[f"optim.{name}.{index}.{key}"] = detached_copy(what, value)
                else:
                    scalars.setdefault(str(index), {})[key] = _encode_value(value)
        groups = [{k: _encode_value(v) for k, v in group.items()} for group in sd["param_groups"]]
        info[name] = {"param_groups": groups, "scalars": scalars}
    return tensors, info


def check_optimizer_shapes(states: dict[str, dict], optimizers: dict) -> None:
    """Saved state tensors must have their parameter's shape (optimizer.load_state_dict does not check).
    States under names the model's own optimizers do not use are passed through unchecked."""
    for name, sd in states.items():
        opt = optimizers.get(name)
        if opt is None:
            continue
        params = [p for group in opt.param_groups for p in group["params"]]
        saved = [i for group in sd["param_groups"] for i in group["params"]]
        if len(saved) != len(params):
            raise FormatProblem(f"optimizer {name!r} covers {len(saved)} parameters, "
                                f"the model has {len(params)}")
        position = {index: k for k, index in enumerate(saved)}
        for index, state in sd["state"].items():
            if index not in position:
                raise FormatProblem(f"optimizer {name!r} has state for parameter {index}, "
                                    "which no group holds")
            shape = params[position[index]].shape
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != shape:
                    raise FormatProblem(f"optimizer {name!r} {key} of parameter {index}: file "
                                        f"{list(value.shape)}, model {list(shape)}")


def unflatten_optimizers(info: dict, tensors: dict[str, torch.Tensor]) -> dict[str, dict]:
    """JSON info + `optim.*` tensors => name -> state dict that `optimizer.load_state_dict` accepts."""
    states = {}
    for name, entry in info.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("param_groups"), list) \
                or not isinstance(entry.get("scalars", {}), dict):
            raise FormatProblem(f"metadata optim {name[:40]!r} is malformed")
        groups = []
        for group in entry["param_groups"]:
            if not isinstance(group, dict) or not isinstance(group.get("params"), list) or not all(
                    isinstance(p, int) and not isinstance(p, bool) for p in group["params"]):
                raise FormatProblem(f"metadata optim {name[:40]!r} has a malformed param group")
            groups.append({k: _decode_value(v) for k, v in group.items()})
        state: dict[int, dict] = {}
        for index, values in entry.get("scalars", {}).items():
            if not isinstance(values, dict):
                raise FormatProblem(f"metadata optim {name[:40]!r} has malformed state")
            state.setdefault(_index(name, index), {}).update({k: _decode_value(v) for k, v in values.items()})
        states[name] = {"state": state, "param_groups": groups}
    for tensor_name, tensor in tensors.items():
        parts = tensor_name.split(".", 3)
        if len(parts) != 4 or parts[1] not in states:
            raise FormatProblem(f"tensor {tensor_name[:80]!r} belongs to no saved optimizer")
        states[parts[1]]["state"].setdefault(_index(parts[1], parts[2]), {})[parts[3]] = tensor
    for sd in states.values():
        sd["state"] = dict(sorted(sd["state"].items()))
    return states


def _index(name: str, text: str) -> int:
    if not (isinstance(text, str) and text.isdigit() and len(text) < 10):
        raise FormatProblem(f"optimizer {name[:40]!r} state has a bad parameter index {str(text)[:20]!r}")
    return int(text)


# -- random number generators ------------------------------------------------------------------------
RNG_LISTS = ("cuda", "ranks", "cuda_ranks")   # lists of states; "ranks": each torchrun rank's CPU generator


def flatten_rng(rng_state: dict) -> dict[str, torch.Tensor]:
    """{"torch": state, "cuda": [per device], "ranks": [per rank], "cuda_ranks": [per rank]} -> tensors."""
    if not isinstance(rng_state, dict):
        raise FormatProblem(f"rng_state must be a dict, got {type(rng_state).__name__}")
    unknown = set(rng_state) - {"torch", *RNG_LISTS}
    if unknown:
        raise FormatProblem(f"rng_state has unknown keys {sorted(map(str, unknown))} "
                            f"(known: torch, {', '.join(RNG_LISTS)})")
    tensors = {}
    if rng_state.get("torch") is not None:
        tensors["rng.torch"] = _byte_state("rng_state torch", rng_state["torch"])
    for key in RNG_LISTS:
        for i, state in enumerate(rng_state.get(key) or []):
            tensors[f"rng.{key}.{i}"] = _byte_state(f"rng_state {key} {i}", state)
    return tensors


def _byte_state(what: str, state) -> torch.Tensor:
    if not isinstance(state, torch.Tensor) or state.dtype != torch.uint8 or state.dim() != 1:
        raise FormatProblem(f"{what} must be a 1-D uint8 tensor (torch.get_rng_state())")
    return detached_copy(what, state)


def unflatten_rng(tensors: dict[str, torch.Tensor]) -> dict:
    if not tensors:
        return {}
    rng: dict = {"cuda": []}
    lists: dict[str, dict[int, torch.Tensor]] = {key: {} for key in RNG_LISTS}
    for name, tensor in tensors.items():
        if tensor.dtype != torch.uint8 or tensor.dim() != 1:
            raise FormatProblem(f"tensor {name!r} must be a 1-D uint8 RNG state")
        if name == "rng.torch":
            rng["torch"] = tensor
            continue
        _, key, index = name.split(".", 2) if name.count(".") == 2 else ("", "", "")
        if key not in lists or not index.isdigit() or len(index) > 6:
            raise FormatProblem(f"unexpected RNG tensor {name[:80]!r}")
        lists[key][int(index)] = tensor
    for key, found in lists.items():
        if sorted(found) != list(range(len(found))):
            raise FormatProblem(f"RNG states {key} are not numbered 0, 1, 2, ...")
        if found or key == "cuda":
            rng[key] = [found[i] for i in range(len(found))]
    return rng


# -- attribute vectors -------------------------------------------------------------------------------
def flatten_vectors(vectors: dict, latent_dim: int) -> tuple[dict[str, torch.Tensor], dict]:
    """name -> {"vector": (latent_dim,), **info} => tensors `vector.<name>` and JSON info."""
    if not isinstance(vectors, dict):
        raise FormatProblem(f"vectors must be a dict of name -> {{'vector': ...}}, "
                            f"got {type(vectors).__name__}")
    tensors, info = {}, {}
    for name, entry in vectors.items():
        if not isinstance(name, str) or not name:
            raise FormatProblem(f"vector name {name!r} must be a non-empty string")
        if not isinstance(entry, dict) or "vector" not in entry:
            raise FormatProblem(f"vector {name!r} must be a dict with a 'vector' tensor")
        try:
            vec = torch.as_tensor(entry["vector"]).detach()
        except (TypeError, ValueError, RuntimeError):
            raise FormatProblem(f"vector {name!r} is not numeric") from None
        if tuple(vec.shape) != (latent_dim,) or not vec.is_floating_point():
            raise FormatProblem(f"vector {name!r} has shape {list(vec.shape)}, the model's latent is "
                                f"[{latent_dim}]")
        vec = detached_copy(f"vector {name!r}", vec.to(torch.float32))
        if not torch.isfinite(vec).all():
            raise FormatProblem(f"vector {name!r} has NaN/Inf values")
        tensors[f"vector.{name}"] = vec
        extra = {k: v for k, v in entry.items() if k != "vector"}
        extra.setdefault("description", "")
        to_json(extra, f"vector {name!r} info")   # fail now on what JSON cannot hold, not at the write
        info[name] = extra
    return tensors, info


def unflatten_vectors(info: dict, tensors: dict[str, torch.Tensor], latent_dim: int) -> dict:
    vectors = {}
    names = {name.removeprefix("vector."): t for name, t in tensors.items()}
    missing = sorted(info.keys() - names.keys())
    if missing:
        raise FormatProblem(f"vector {missing[0][:40]!r} is described but has no tensor")
    for name, tensor in names.items():
        if tuple(tensor.shape) != (latent_dim,) or not tensor.is_floating_point():
            raise FormatProblem(f"vector {name[:40]!r} has shape {list(tensor.shape)}, "
                                f"the latent is [{latent_dim}]")
        tensor = tensor.to(torch.float32)
        if not torch.isfinite(tensor).all():
            raise FormatProblem(f"vector {name[:40]!r} has NaN/Inf values")
        extra = dict(info.get(name, {}))
        extra.pop("vector", None)
        vectors[name] = {"vector": tensor, **extra}
    return vectors


def finite(tensor: torch.Tensor) -> bool:
    return not tensor.is_floating_point() or bool(torch.isfinite(tensor).all())
