"""Where a user's module came from, so sessions and recipes can say so: `--module my_vae.py:build`
(a file and a factory) or `my_project.vae:build` (an import path), the weights file, and the weights'
sha256. Importing and calling the factory runs the user's own code: only on purpose, from --module or the
Python API, never because a file that was opened names it."""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from latent_atlas.models.errors import ConfigError


@dataclass(frozen=True)
class ModuleSource:
    spec: str                     # "my_vae.py:build", "my_project.vae:build", or "MyVAE (my_project.vae)"
    file: str | None              # the module's source file, when known
    weights: str | None           # the weights file given with --weights, if any
    weights_sha256: str           # of the state dict's tensors (names, dtypes, shapes and bytes)

    def describe(self) -> dict:
        return {"module": self.spec, "file": self.file, "weights": self.weights,
                "weights_sha256": self.weights_sha256}

    @property
    def display_name(self) -> str:
        return self.spec.split(":")[-1] if ":" in self.spec else self.spec.split(" ")[0]


def weights_sha256(net) -> str:
    """sha256 over the state dict in key order; the same weights give the same hash on any device."""
    h = hashlib.sha256()
    state = net.state_dict() if hasattr(net, "state_dict") else {}
    for key in sorted(state):
        t = state[key]
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def source_of(net, spec: str | None = None, weights: str | None = None) -> ModuleSource:
    cls = type(net)
    try:
        file = inspect.getsourcefile(cls)
    except TypeError:
        file = None
    spec = spec or f"{cls.__qualname__} ({cls.__module__})"
    return ModuleSource(spec, str(Path(file).resolve()) if file else None, weights, weights_sha256(net))


def build_from_spec(spec: str, weights: str | None = None):
    """(net, ModuleSource) from "file.py:factory" or "package.module:factory"; factory() is called with no
    arguments and must return the module. Weights are read with torch.load(weights_only=True) only."""
    target, sep, factory_name = spec.rpartition(":")
    if not sep or not target or not factory_name.isidentifier():
        raise ConfigError(f"--module {spec}: expected FILE.py:FACTORY or package.module:FACTORY")
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    folder = str(Path(target).expanduser().resolve().parent) if is_file else None
    with _first_on_path(folder):                             # its sibling files import, as under `python FILE`
        module = _import_file(target, spec) if is_file else _import_name(target, spec)
        factory = getattr(module, factory_name, None)
        if not callable(factory):
            raise ConfigError(f"--module {spec}: {target} has no function or class named {factory_name!r}")
        try:
            net = factory()
        except Exception as e:                               # the user's code: any error
            raise ConfigError(f"--module {spec}: {factory_name}() raised {type(e).__name__}: {e}") from None
    if net is None or not (callable(getattr(net, "decode", None)) or callable(net)):
        raise ConfigError(f"--module {spec}: {factory_name}() returned {type(net).__name__}, not a model "
                          "with decode(z) (or a generator called as net(z))")
    if weights is not None:
        _load_weights(net, Path(weights), spec)
    source = source_of(net, spec, str(Path(weights).resolve()) if weights else None)
    file = getattr(module, "__file__", None)
    return net, replace(source, file=str(Path(file).resolve())) if file else source


@contextmanager
def _first_on_path(folder: str | None):
    """The user's folder first on the import path while their file is imported and its factory runs, as
    `python my_vae.py` would have it; taken off again afterwards, so nothing of ours depends on it."""
    if folder is None or folder in sys.path:
        yield
        return
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        if folder in sys.path:
            sys.path.remove(folder)


def _import_file(target: str, spec: str):
    path = Path(target).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"--module {spec}: {path} is not a file")
    name = f"latent_atlas_user_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"--module {spec}: {path} cannot be imported as Python")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:                        # the user's code: any error
        sys.modules.pop(name, None)
        raise ConfigError(f"--module {spec}: importing {path.name} raised {type(e).__name__}: {e}") from None
    return module


def _import_name(target: str, spec: str):
    try:
        return importlib.import_module(target)
    except Exception as e:                        # the user's code: any error
        raise ConfigError(f"--module {spec}: cannot import {target} ({type(e).__name__}: {e})") from None


def _load_weights(net, path: Path, spec: str) -> None:
    from latent_atlas.models.checkpoints.convert import read_state_dict
    from latent_atlas.models.errors import CheckpointError

    if not hasattr(net, "load_state_dict"):
        raise ConfigError(f"--weights {path}: the module of {spec} has no load_state_dict")
    try:
        state = read_state_dict(path)
    except CheckpointError as e:
        raise ConfigError(str(e)) from None
    own = set(net.state_dict())
    if not own & set(state) and all(k.startswith("model.") for k in state):
        state = {k.removeprefix("model."): v for k, v in state.items()}     # a Lightning module's "model."
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        missing = sorted(own - set(state))[:3]
        unexpected = sorted(set(state) - own)[:3]
        raise ConfigError(f"--weights {path}: these weights do not fit the module of {spec} (missing "
                          f"{missing or 'none'}, unexpected {unexpected or 'none'})\n{str(e)[:400]}") from None


def shape_argument(text: str | None, flag: str) -> tuple[int, ...] | None:
    """"4,8,8" -> (4, 8, 8); ConfigError naming the flag otherwise."""
    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in str(text).replace("x", ",").split(","))
    except ValueError:
        raise ConfigError(f"{flag} {text}: expected sizes separated by commas, e.g. 4,8,8") from None
    if not shape or min(shape) < 1:
        raise ConfigError(f"{flag} {text}: sizes must be positive")
    return shape
