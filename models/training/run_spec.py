"""One run specification for every way of training: `latent-atlas train`, the editor's Training tab, the
build script, the benchmarks and the reference VAE each make a `RunSpec` and call `build()`.

The rules for resuming and for output files are written once, in RunSpec's docstring.
"""
from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.errors import CheckpointError, ConfigError
from latent_atlas.models.model_factory import DEFAULT_LR, FAMILIES
from latent_atlas.models.safe_files import same_path

DEFAULT_BATCH_SIZE = 128
CONDITIONS = ("labels", "attributes")

# the words a message uses for a field; an entry point passes its own (the command line: its flags)
WORDS = {"family": "model", "epochs": "epochs", "batch_size": "batch size", "lr": "learning rate",
         "seed": "seed", "checkpoint_every": "checkpoint interval", "event_interval": "event interval",
         "latent_dim": "latent size", "beta": "beta", "consistency": "condition consistency",
         "width": "width", "hidden": "hidden size", "likelihood": "likelihood", "config": "model config",
         "image_size": "image size", "channels": "channels", "limit": "limit", "condition": "condition",
         "dataset": "dataset", "out": "output file", "resume": "resume", "overwrite": "overwrite",
         "mirror_shift": "mirror and shift"}


class SpecError(ConfigError):
    """A RunSpec the user must change, naming the field. The template holds {field}-style placeholders
    that `named()` fills with an entry point's own words (a flag, a form label)."""

    def __init__(self, field_name: str, template: str, labels: Mapping[str, str] | None = None):
        self.field, self.template = field_name, template
        text = template
        for key, word in {**WORDS, **(labels or {})}.items():
            text = text.replace("{" + key + "}", word)
        super().__init__(text)

    def named(self, labels: Mapping[str, str]) -> SpecError:
        return SpecError(self.field, self.template, labels)

    def __reduce__(self):          # pickles (a torchrun rank's or a child process's error) with its words
        return (_spec_error_with_text, (self.field, self.template, str(self)))


def _spec_error_with_text(field_name: str, template: str, text: str) -> SpecError:
    e = SpecError(field_name, template)
    e.args = (text,)
    return e


@dataclass(frozen=True)
class DataSpec:
    source: str | None = None          # a built-in name (DATASET_NAMES) or a folder; None: digits / recorded
    image_size: int | None = None      # None: the data's own (on a resume: the checkpoint's)
    channels: int | None = None
    limit: int | None = None           # the first `limit` images only
    attributes_file: str | None = None  # an attribute table for an image folder
    font: str | None = None            # emoji: the colour font to draw with


@dataclass(frozen=True)
class ModelSpec:
    latent_dim: int | None = None
    beta: float | None = None          # VAE family only
    consistency: float | None = None   # CVAE only
    width: int | None = None
    hidden: int | None = None
    likelihood: str | None = None      # None: bernoulli
    config: object | None = None       # a complete config instead of the fields above (the reference VAE)


@dataclass(frozen=True)
class RunSpec:
    """One training run, as every entry point describes it; `validate()` checks it, `build()` makes it.

    A field left None means "the default", and on a resume "the checkpoint's". The rules, written once:

    Resume (`resume=FILE`). The checkpoint fixes the model: its family, kind and config (latent size, beta,
    consistency, width, hidden, likelihood, image size, channels) and, for a CVAE, what it is conditioned on.
    A spec may repeat those values; a different one is refused in one line naming the field. The data must
    fit the model: the same image shape and condition size and, for a CVAE, the same condition names (a
    CVAE conditioned on Fashion-MNIST's classes does not continue on the digits' classes); other data of that
    shape is allowed with a warning (fine-tuning). Batch size, learning rate and seed may change; unset, they
    are the checkpoint's. No data named: the data the checkpoint records, if it may be used without asking
    (recorded_source.py). The run continues from the saved step with the saved weights, optimiser state, RNG
    state and curves (from the start of that epoch if the steps per epoch changed); `epochs` counts from the
    run's start, so a checkpoint that has trained that many already is refused. An unreadable file falls
    back to <name>.prev.safetensors, with a warning.

    Output (`out`). None writes nothing (benchmarks, tests). Otherwise a file ending in .safetensors, never
    inside resources/ (the bundled models; the build script alone may, `bundled_ok`), in a folder that exists
    and is writable: a missing folder is an error (a typo must not scatter runs over new folders), except the
    default folder ~/LatentAtlas/trained, which is created. An existing file is refused unless the spec
    resumes from that very file (training continues in place) or says `overwrite` (the old file is then kept
    as <name>.prev.safetensors when the first checkpoint replaces it). A resume writes into its own file unless
    `out` names another. Every write is atomic (temp file, fsync, rename): after a failed, stopped or killed
    run `out` holds the last complete checkpoint or does not exist, never part of one. `out` is always the
    latest checkpoint and <name>.prev.safetensors the one before; there is no "best" file, since training
    holds no data out to judge one by.

    Seed: 0 unless set (on a resume: the checkpoint's): the initial weights, the data order and the noise.
    Device: "auto" picks CUDA, then MPS, then CPU; torchrun's context picks its own. Threads are the
    caller's policy (the editor's training thread takes the batch pool, the command line torch's default).
    Checkpoints: `checkpoint_every` None is the trainer's pacing (each epoch, or every few short epochs).
    """
    family: str | None = None          # vae, betavae, ae, cvae, gan; None: vae / the checkpoint's
    data: DataSpec = field(default_factory=DataSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    condition: str | None = None       # CVAE: "labels" or "attributes"; None: labels / the checkpoint's
    epochs: int = 10                   # total, counting a resumed run's
    batch_size: int | None = None      # per process; None: 128 / the checkpoint's
    lr: float | None = None            # None: the family's DEFAULT_LR / the checkpoint's
    seed: int | None = None            # None: 0 / the checkpoint's
    checkpoint_every: int | None = None   # steps; 0: each epoch; None: the trainer's pacing
    mirror_shift: bool | None = None   # augment each batch (training/augment.py); None: off / the checkpoint's
    event_interval: float = 0.1        # seconds between progress events
    device: str = "cpu"                # or "auto", "cuda", "mps"
    out: str | Path | None = None
    resume: str | Path | None = None
    overwrite: bool = False
    bundled_ok: bool = False           # the build script writes into resources/models

    # -- checks -------------------------------------------------------------------------------------
    def validate(self, check_out: bool = True) -> None:
        """SpecError (or CheckpointError for an unreadable resume file) for anything the user must change,
        before any data is loaded. check_out False: leave the output file alone (torchrun ranks > 0)."""
        _check_numbers(self)
        if self.family is not None and self.family not in FAMILIES:
            raise SpecError("family", f"unknown {{family}} {self.family!r} (choose from {', '.join(FAMILIES)})")
        if self.condition is not None and self.condition not in CONDITIONS:
            raise SpecError("condition", f"{{condition}} must be labels or attributes, not {self.condition!r}")
        header = read_resume_header(self.resume) if self.resume is not None else None
        family = self.family or (header.family if header else "vae")
        kind = FAMILIES[family][0]
        if self.model.consistency and kind != "cvae":
            raise SpecError("consistency", f"{{consistency}} applies to a CVAE, not to a {family}")
        if self.model.beta is not None and kind == "gan":
            raise SpecError("beta", "{beta} applies to the VAE family, not to a GAN")
        if header is not None:
            _check_resume_fields(self, header)
        if check_out and self.output() is not None:
            check_output(self.output(), resume=self.resume, overwrite=self.overwrite, bundled_ok=self.bundled_ok)

    def output(self) -> Path | None:
        """Where checkpoints go: `out`, else the resumed file itself, else nowhere."""
        out = self.out if self.out not in (None, "") else self.resume
        return None if out in (None, "") else Path(out).expanduser()

    # -- building -----------------------------------------------------------------------------------
    def build(self, distributed=None) -> BuiltRun:
        """Validates, loads the data, builds the model (or takes the checkpoint's) and the Trainer.
        distributed: this process's DistributedContext under torchrun (only rank 0 checks and writes)."""
        import torch

        from latent_atlas.models.data import load_dataset
        from latent_atlas.models.device import resolve_device
        from latent_atlas.models.registry import build_model
        from latent_atlas.models.training.events import TrainConfig
        from latent_atlas.models.training.trainer import Trainer, load_for_resume
        from latent_atlas.models.training.training_data import training_tensors

        main = distributed is None or distributed.is_main
        self.validate(check_out=main)
        loaded = load_for_resume(self.resume) if self.resume is not None else None   # (checkpoint, warning)
        resumed = loaded[0] if loaded is not None else None
        spec = self._resolved(resumed)
        out = spec.output()
        if main and out is not None and same_path(out.parent, default_folder()):
            out.parent.mkdir(parents=True, exist_ok=True)
        device = distributed.device if distributed is not None else resolve_device(spec.device)
        d = spec.data
        data = load_dataset(d.source, split="train", image_size=d.image_size, channels=d.channels, limit=d.limit,
                            seed=spec.seed, attributes_file=d.attributes_file, font=d.font)
        conditional = spec.family == "cvae"
        images, conditions, cond_names = training_tensors(data, conditional, spec.condition)
        warnings = []
        if resumed is not None:
            warnings = check_resume_data(self.resume, resumed, data, conditions, cond_names, spec.condition)
            kind, config = resumed.kind, resumed.config
        else:
            kind, config = _model_config(spec, data.image_shape, conditions)
        torch.manual_seed(spec.seed)                     # the initial weights, reproducible from the seed
        model = build_model(kind, config)
        train_config = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, seed=spec.seed,
                                   condition=spec.condition, checkpoint_every=spec.checkpoint_every,
                                   event_interval=spec.event_interval, mirror_shift=spec.mirror_shift,
                                   check_every=1 if device.type == "cpu" else 20)   # each check syncs a GPU
        dataset = {**data.describe(), "condition": spec.condition if conditional else None,
                   "condition_names": cond_names, "family": spec.family}
        trainer = Trainer(model, images, conditions, train_config, out=out, dataset=dataset, device=device,
                          resume_from=self.resume, distributed=distributed, resumed=loaded)
        trainer.warnings[:0] = warnings
        if trainer.step >= trainer.total_steps:
            done = trainer.step // trainer.steps_per_epoch
            raise SpecError("epochs", f"{self.resume} has trained {done} epochs already: set {{epochs}} "
                                      f"above {done}")
        return BuiltRun(spec, data, images, conditions, cond_names, model, trainer)

    def _resolved(self, resumed) -> RunSpec:
        """This spec with every default filled in: from the checkpoint when resuming."""
        if resumed is None:
            family = self.family or "vae"
            return replace(self, family=family, data=replace(self.data, source=self.data.source or "digits"),
                           condition=self.condition or "labels", batch_size=self.batch_size or DEFAULT_BATCH_SIZE,
                           lr=self.lr or DEFAULT_LR[FAMILIES[family][0]],
                           seed=self.seed if self.seed is not None else 0, mirror_shift=bool(self.mirror_shift))
        ds, tc = resumed.dataset or {}, resumed.train_state.get("train_config") or {}
        c, h, w = resumed.config.image_shape
        source = self.data.source
        if source is None:
            from latent_atlas.models.data.recorded_source import recorded_dataset

            source = recorded_dataset(ds, self.resume)
        return replace(self, family=recorded_family(resumed.kind, ds),
                       data=replace(self.data, source=source, image_size=h if h == w else None, channels=c),
                       condition=recorded_condition(resumed.kind, resumed.config, ds),
                       batch_size=self.batch_size or int(tc.get("batch_size", DEFAULT_BATCH_SIZE)),
                       lr=self.lr or float(tc.get("lr", DEFAULT_LR[resumed.kind])),
                       seed=self.seed if self.seed is not None else int(tc.get("seed", 0)),
                       mirror_shift=bool(tc.get("mirror_shift", False)) if self.mirror_shift is None
                       else self.mirror_shift)


@dataclass(frozen=True, eq=False)
class BuiltRun:
    """What build() made: the resolved spec (every default filled in), the data, the model, the trainer."""
    spec: RunSpec
    data: object                       # ImageData
    images: object                     # (N, C, H, W) uint8 tensor
    conditions: object                 # (N, cond_dim) float tensor, or None
    condition_names: list
    model: object
    trainer: object


@dataclass(frozen=True)
class ResumeHeader:
    """What a checkpoint says about its run, read from its header alone (no tensors)."""
    path: Path
    kind: str
    family: str
    config: object
    dataset: dict
    train_state: dict


def read_resume_header(path) -> ResumeHeader:
    """The header of the file a run resumes from, or of its .prev when the file itself is unreadable (the
    trainer resumes from that one then). CheckpointError naming the file if neither reads."""
    from latent_atlas.models.checkpoints.header import FormatProblem, parse_metadata, read_header
    from latent_atlas.models.registry import make_config
    from latent_atlas.models.training.trainer import previous_path

    def read(p: Path) -> ResumeHeader:
        header = read_header(p)
        try:
            info = parse_metadata(header["__metadata__"])
            config = make_config(info["kind"], info["config"])
        except (FormatProblem, ConfigError) as e:
            raise CheckpointError(f"{p}: {e}") from None
        ds = info["dataset"] or {}
        return ResumeHeader(p, info["kind"], recorded_family(info["kind"], ds), config, ds,
                            info["train_state"] or {})

    path = Path(path).expanduser()
    try:
        return read(path)
    except CheckpointError:
        prev = previous_path(path)
        if not prev.exists():
            raise
        return read(prev)


def recorded_family(kind: str, dataset: dict) -> str:
    """The family a checkpoint records (betavae, ae: a VAE with another beta), or its kind when it records
    none or one this version does not know."""
    family = (dataset or {}).get("family")
    return family if family in FAMILIES and FAMILIES[family][0] == kind else kind


def recorded_condition(kind: str, config, dataset: dict) -> str:
    """What a checkpoint's model is conditioned on ("labels" for a model without a condition)."""
    if kind != "cvae":
        return "labels"
    return (dataset or {}).get("condition") or getattr(config, "condition_kind", "labels") or "labels"


def _check_resume_fields(spec: RunSpec, h: ResumeHeader) -> None:
    """Refuse every model choice the spec makes that differs from the checkpoint's."""
    where = f"{h.path}"
    if spec.family is not None and spec.family != h.family:
        raise SpecError("family", f"{where} holds a {h.family}; it cannot resume as {{family}} {spec.family}")
    cfg, m = h.config, spec.model
    c, height, width = cfg.image_shape
    fixed = {"latent_dim": (m.latent_dim, cfg.latent_dim), "beta": (m.beta, getattr(cfg, "beta", None)),
             "consistency": (m.consistency, getattr(cfg, "consistency", 0.0)),
             "width": (m.width, getattr(cfg, "width", None)), "hidden": (m.hidden, getattr(cfg, "hidden", None)),
             "likelihood": (m.likelihood, getattr(cfg, "likelihood", None)),
             "image_size": (spec.data.image_size, height if height == width else None),
             "channels": (spec.data.channels, c), "config": (m.config, cfg)}
    if h.kind == "cvae":
        fixed["condition"] = (spec.condition, recorded_condition(h.kind, cfg, h.dataset))
    for name, (asked, saved) in fixed.items():
        if asked is not None and not _same_value(asked, saved):
            shown = "" if name == "config" else f" ({saved}, asked for {asked})"
            raise SpecError(name, f"{{{name}}} cannot change when resuming {where}: it is fixed by the "
                                  f"checkpoint{shown}")


def check_resume_data(source, ckpt, data, conditions, condition_names, condition: str) -> list[str]:
    """A resumed run must see images of the checkpoint's shape and a condition of its size, kind and names.
    Returns warnings (other data of the same shape: fine-tuning)."""
    config, ds = ckpt.config, ckpt.dataset or {}
    if tuple(data.image_shape) != tuple(config.image_shape):
        raise SpecError("dataset", f"{source} was trained on {tuple(config.image_shape)} images; "
                                   f"{data.name} gives {data.image_shape}")
    cond_dim = 0 if conditions is None else conditions.shape[1]
    if cond_dim != config.cond_dim:
        raise SpecError("dataset", f"{source} is conditioned on {config.cond_dim} values; {data.name} "
                                   f"gives {cond_dim}")
    if ckpt.kind == "cvae":
        saved_kind = recorded_condition(ckpt.kind, config, ds)
        if condition != saved_kind:
            raise SpecError("condition", f"{source} is conditioned on {saved_kind}; it cannot resume on "
                                         f"{condition}")
        saved_names = list(ds.get("condition_names") or [])
        if saved_names and saved_names != list(condition_names):
            raise SpecError("dataset", f"{source} is conditioned on {_few(saved_names)}; {data.name} gives "
                                       f"{_few(condition_names)}")
    saved_name = ds.get("name")
    if saved_name and saved_name != data.name:
        return [f"{source} was trained on {saved_name}; it continues on {data.name}"]
    return []


def _model_config(spec: RunSpec, image_shape, conditions):
    from latent_atlas.models.model_factory import make_model_config

    cond_dim = 0 if conditions is None else conditions.shape[1]
    m = spec.model
    if m.config is not None:
        kind = FAMILIES[spec.family][0]
        if tuple(m.config.image_shape) != tuple(image_shape) or m.config.cond_dim != cond_dim:
            raise SpecError("config", f"the {{config}} wants {tuple(m.config.image_shape)} images and "
                                      f"{m.config.cond_dim} condition values; {spec.data.source} gives "
                                      f"{tuple(image_shape)} and {cond_dim}")
        return kind, m.config
    return make_model_config(spec.family, image_shape, latent_dim=m.latent_dim, beta=m.beta, cond_dim=cond_dim,
                             width=m.width, hidden=m.hidden, likelihood=m.likelihood or "bernoulli",
                             consistency=m.consistency, condition=spec.condition)


def _check_numbers(spec: RunSpec) -> None:
    at_least_one = {"epochs": spec.epochs, "batch_size": spec.batch_size, "limit": spec.data.limit,
                    "latent_dim": spec.model.latent_dim, "width": spec.model.width,
                    "hidden": spec.model.hidden, "image_size": spec.data.image_size}
    for name, value in at_least_one.items():
        if value is not None and value < 1:
            raise SpecError(name, f"{{{name}}} must be at least 1, got {value}")
    if spec.lr is not None and not (spec.lr > 0 and math.isfinite(spec.lr)):
        raise SpecError("lr", f"{{lr}} must be positive, got {spec.lr}")
    if spec.checkpoint_every is not None and spec.checkpoint_every < 0:
        raise SpecError("checkpoint_every", f"{{checkpoint_every}} must be 0 (each epoch) or a number of steps, "
                                            f"got {spec.checkpoint_every}")
    for name, value in (("beta", spec.model.beta), ("consistency", spec.model.consistency),
                        ("event_interval", spec.event_interval)):
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise SpecError(name, f"{{{name}}} must be 0 or more, got {value}")


# -- output files -----------------------------------------------------------------------------------
def default_folder() -> Path:
    """~/LatentAtlas/trained, or the temp folder's LatentAtlas when home cannot hold it."""
    home = Path.home() / "LatentAtlas" / "trained"
    return home if _writable_or_creatable(home) else Path(tempfile.gettempdir()) / "LatentAtlas"


def default_output(dataset: str, family: str) -> Path:
    """A new file in default_folder() named after the family and the data; never an existing one."""
    from latent_atlas.models.data import DATASET_NAMES

    name = Path(dataset).name if dataset not in DATASET_NAMES else dataset
    folder = default_folder()
    path = folder / f"{family}-{name}.safetensors"
    n = 2
    while path.exists():
        path, n = folder / f"{family}-{name}-{n}.safetensors", n + 1
    return path


def check_output(path, *, resume=None, overwrite: bool = False, bundled_ok: bool = False) -> Path:
    """The output rule (see the module docstring): SpecError naming the file and what to do."""
    if path is None or not str(path).strip():
        raise SpecError("out", "choose an {out} for the checkpoint")
    path = Path(path).expanduser()
    if path.name == "" or path.suffix != ".safetensors":
        raise SpecError("out", f"{path}: a checkpoint file must end in .safetensors")
    resources = resource_path()
    if not bundled_ok and _inside(path, resources):
        raise SpecError("out", f"{path}: will not write inside {resources}: the bundled models live there")
    if path.is_dir():
        raise SpecError("out", f"cannot write {path}: it is a folder")
    if path.exists() and not path.is_file():
        raise SpecError("out", f"cannot write {path}: it is not a regular file")
    folder = path.parent
    if not folder.is_dir():
        if not (same_path(folder, default_folder()) and _writable_or_creatable(folder)):
            raise SpecError("out", f"cannot write {path}: folder {folder} does not exist")
    else:
        try:   # find out now, not after the first epoch
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as e:
            raise SpecError("out", f"cannot write {path}: folder {folder} is not writable "
                                   f"({e.strerror or e})") from None
    if path.exists() and not overwrite and not (resume is not None and same_path(path, Path(resume))):
        raise SpecError("out", f"{path} already exists: train into another file, continue it with {{resume}}, "
                               f"or replace it with {{overwrite}}")
    return path


def _same_value(asked, saved) -> bool:
    if isinstance(asked, float) or isinstance(saved, float):
        try:
            return math.isclose(float(asked), float(saved), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return asked == saved


def _few(names) -> str:
    names = list(names)
    return ", ".join(map(str, names[:4])) + (f" ... ({len(names)} in all)" if len(names) > 4 else "")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.expanduser().resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _writable_or_creatable(folder: Path) -> bool:
    """True if `folder` is writable, or does not exist yet and its nearest existing parent is."""
    for f in (folder, *folder.parents):
        if f.exists():
            return f.is_dir() and os.access(f, os.W_OK | os.X_OK)
    return False
