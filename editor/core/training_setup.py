"""The Training panel's choices as plain data, and what they turn into: a RunSpec, then a trainer.

No Qt: `prepare_run` loads the data and builds the model, so the training thread calls it (it can take
seconds for MNIST) and tests call it directly. The form becomes a RunSpec (models/training/run_spec.py),
the specification `latent-atlas train` builds too: the same choices give the same run, and the rules for
resuming and for the output file are that module's, not this one's.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from latent_atlas.editor.core.probe_map import ProbeProjector, probe_indices
from latent_atlas.models.data import DATASET_NAMES
from latent_atlas.models.data.recorded_source import recorded_dataset
from latent_atlas.models.model_factory import DEFAULT_LR, FAMILIES
from latent_atlas.models.training.run_spec import (
    DataSpec,
    ModelSpec,
    RunSpec,
    SpecError,
    check_output,
    default_output,
    read_resume_header,
    recorded_condition,
    recorded_family,
)
from latent_atlas.models.training.trainer import Trainer

__all__ = ["check_output", "default_output"]      # the output rules live in run_spec; the form shows them

FAMILY_NAMES = {"vae": "VAE", "betavae": "beta-VAE", "ae": "Autoencoder", "cvae": "CVAE", "gan": "GAN"}
FOLDER = "folder"                      # the dataset choice that means "a folder picked with a dialog"
# curves the panel plots, in this order; "loss" is left out because it is the sum of the others
PLOTTED_TERMS = {"vae": ("recon", "kl", "beta_kl", "elbo"), "cvae": ("recon", "kl", "beta_kl", "elbo"),
                 "gan": ("d_loss", "g_loss", "d_real", "d_fake", "jsd")}
PREVIEW_COUNT = 16                     # a 4x4 grid
# the form's words for the RunSpec fields its messages name
LABELS = {"family": "Model", "epochs": "Epochs", "batch_size": "Batch size", "lr": "Learning rate",
          "latent_dim": "Latent size", "beta": "Beta", "consistency": "Condition consistency",
          "condition": "CVAE condition", "dataset": "Dataset", "out": "output file (Save as)",
          "resume": "Resume from…", "overwrite": "the … button beside Save as (it asks before replacing)",
          "mirror_shift": "Mirror and shift"}


@dataclass(frozen=True)
class DatasetDefaults:
    latent_dim: int
    epochs: int
    batch_size: int
    family: str          # what the panel suggests when the dataset is picked and the family is untouched
    gan_latent_dim: int  # a GAN wants a wider prior than a VAE on the same data


DATASET_DEFAULTS = {
    "digits": DatasetDefaults(8, 30, 64, "vae", 16),            # 8x8: 1,438 training images, seconds/epoch
    "shapes": DatasetDefaults(10, 20, 64, "betavae", 32),       # 5 generative factors: beta-VAE, room to spare
    "fashion-mnist": DatasetDefaults(16, 10, 128, "vae", 64),
    "mnist": DatasetDefaults(16, 10, 128, "vae", 64),
    "emoji": DatasetDefaults(32, 30, 64, "vae", 64),            # 2,912 RGB 64x64 training images
    FOLDER: DatasetDefaults(32, 20, 64, "vae", 64),
}


@dataclass(frozen=True)
class TrainingForm:
    """Everything the form holds. dataset: a built-in name (DATASET_NAMES) or a folder path."""
    family: str = "vae"
    dataset: str = "digits"
    attributes_file: str | None = None
    latent_dim: int = 8
    beta: float = 1.0
    consistency: float = 0.0           # CVAE: weight of the condition-consistency term (0: off)
    lr: float = 1e-3
    batch_size: int = 64
    epochs: int = 30
    condition: str = "labels"          # CVAE: condition on one-hot "labels" or on "attributes"
    mirror_shift: bool = False         # augment each batch: mirrored halves, shifts of a few pixels
    device: str = "cpu"
    out: str = ""                      # "" -> default_output() (a resume: the resumed file)
    overwrite: bool = False            # replace an existing `out` (the Save as dialog asked the user)
    seed: int = 0
    limit: int | None = None           # train on the first `limit` images only (quick trials, tests)
    resume_from: str | None = None
    event_interval: float = 0.1        # seconds between progress events: ~10 per second reach the GUI
    checkpoint_every: int | None = None   # steps between checkpoints; None: the trainer's default pacing


@dataclass(frozen=True)
class RunInfo:
    """What the panel needs to know once a run is set up: sent once from the training thread."""
    kind: str
    family: str
    terms: tuple[str, ...]
    start_step: int
    total_steps: int
    steps_per_epoch: int
    batch_size: int
    n_images: int
    out: str
    history: dict = field(default_factory=dict)     # the resumed checkpoint's curves ({} for a new run)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class ProbeSet:
    """A fixed subset of the training images that an encoder re-encodes for the probe map."""
    images: torch.Tensor               # (N, C, H, W) uint8
    conditions: torch.Tensor | None    # (N, cond_dim) for a CVAE
    labels: np.ndarray | None          # (N,) int class of each image, for colour
    projector: ProbeProjector = field(default_factory=ProbeProjector)


@dataclass(frozen=True, eq=False)
class PreparedRun:
    """A built model with its data and settings; lives on the training thread only."""
    trainer: Trainer
    family: str
    preview_z: torch.Tensor            # (PREVIEW_COUNT, latent_dim), fixed for the whole run
    preview_c: torch.Tensor | None     # (PREVIEW_COUNT, cond_dim) or None
    probe: ProbeSet | None = None      # VAE family only: a GAN has no encoder

    def info(self) -> RunInfo:
        t = self.trainer
        terms = plotted_terms(self.family, getattr(t.model.config, "consistency", 0.0))
        return RunInfo(t.model.kind, self.family, terms, t.step, t.total_steps,
                       t.steps_per_epoch, t.config.batch_size, len(t.images), str(t.out),
                       {k: list(v) for k, v in t.history.items()}, tuple(t.warnings))


def plotted_terms(family: str, consistency: float = 0.0) -> tuple[str, ...]:
    """The loss terms a run of this family reports, in plotting order."""
    terms = PLOTTED_TERMS[FAMILIES[family][0]] if family in FAMILIES else ()
    return terms + ("consistency",) if consistency > 0 and family == "cvae" else terms


def defaults_for(dataset: str, family: str) -> dict:
    """Form values that suit this dataset and family: latent size, epochs, batch size, beta, lr."""
    d = DATASET_DEFAULTS.get(dataset, DATASET_DEFAULTS[FOLDER])
    kind = FAMILIES[family][0] if family in FAMILIES else "vae"
    beta = FAMILIES.get(family, ("vae", {}))[1].get("beta", 1.0)
    return {"latent_dim": d.gan_latent_dim if kind == "gan" else d.latent_dim, "epochs": d.epochs,
            "batch_size": d.batch_size, "beta": float(beta), "lr": DEFAULT_LR[kind]}


def form_for(dataset: str = "digits", family: str | None = None, **overrides) -> TrainingForm:
    """A complete form for this dataset: the suggested family unless one is given, its defaults, overrides."""
    family = family or DATASET_DEFAULTS.get(dataset, DATASET_DEFAULTS[FOLDER]).family
    return replace(TrainingForm(family=family, dataset=dataset), **{**defaults_for(dataset, family), **overrides})


def run_spec(form: TrainingForm) -> RunSpec:
    """The RunSpec this form asks for. What a family has no use for is left out (a GAN's beta, a VAE's
    condition and consistency), so the form's leftovers are never an error."""
    kind = FAMILIES.get(form.family, ("vae", {}))[0]
    cvae = kind == "cvae"
    out = form.out or ("" if form.resume_from else str(default_output(form.dataset, form.family)))
    return RunSpec(family=form.family, data=DataSpec(form.dataset, limit=form.limit,
                                                      attributes_file=form.attributes_file or None),
                   model=ModelSpec(latent_dim=form.latent_dim, beta=None if kind == "gan" else form.beta,
                                   consistency=form.consistency if cvae else None),
                   condition=form.condition if cvae else None, epochs=form.epochs, batch_size=form.batch_size,
                   lr=form.lr, seed=form.seed, checkpoint_every=form.checkpoint_every,
                   event_interval=form.event_interval, device=form.device, out=out or None,
                   resume=form.resume_from, overwrite=form.overwrite, mirror_shift=form.mirror_shift)


def check_form(form: TrainingForm) -> None:
    """ConfigError (in the form's words) or CheckpointError for what the form must change before a run can
    start: the checks RunSpec.validate makes before any data is loaded."""
    try:
        run_spec(form).validate()
    except SpecError as e:
        raise e.named(LABELS) from None


def prepare_run(form: TrainingForm) -> PreparedRun:
    """Loads the data, builds the model (or reads the one to resume) and the Trainer. Raises
    LatentAtlasError subclasses (DatasetError, ConfigError, CheckpointError) with a readable message."""
    try:
        run = run_spec(form).build()
    except SpecError as e:
        raise e.named(LABELS) from None
    model, images, conditions, data = run.model, run.images, run.conditions, run.data
    seed, device = run.spec.seed, run.trainer.device
    z, c = preview_inputs(model, conditions, run.spec.condition, seed)
    probe = None
    if model.can_encode:
        idx = probe_indices(len(images), seed=seed)
        labels = None if data.labels is None else np.asarray(data.labels)[idx]
        probe = ProbeSet(images[idx], None if conditions is None else conditions[idx], labels)
    return PreparedRun(run.trainer, run.spec.family, z.to(device), None if c is None else c.to(device), probe)


def preview_inputs(model, conditions: torch.Tensor | None, condition: str, seed: int):
    """The fixed latents (and conditions) the preview decodes all run long, so the same samples improve.
    Drawn from their own generator, so the preview never moves the training RNG."""
    g = torch.Generator().manual_seed(seed + 12345)
    z = torch.randn(PREVIEW_COUNT, model.latent_dim, generator=g)
    if model.cond_dim == 0 or conditions is None:
        return z, None
    if condition == "labels":                        # one class per cell, cycling through the classes
        return z, torch.eye(model.cond_dim)[torch.arange(PREVIEW_COUNT) % model.cond_dim]
    rows = torch.randint(0, len(conditions), (PREVIEW_COUNT,), generator=g)
    return z, conditions[rows].detach().cpu().float()


def resume_form(path: str | Path, current: TrainingForm, keep_dataset: bool = False) -> TrainingForm:
    """The form to resume `path` with: its family, data and sizes; this form's epochs and device; output =
    path. Reads only the header (no tensors), so the GUI thread may call it; CheckpointError if unreadable.
    The recorded data only if recorded_dataset accepts it, else RecordedSourceRefused (keep_dataset: the
    current form's data instead, for the user to choose)."""
    h = read_resume_header(path)
    spec = current.dataset if keep_dataset else _recorded_spec(h.dataset, path, current.dataset)
    form = _resumed_form(current, h.kind, h.config, h.dataset, h.train_state, dataset_spec=spec)
    return replace(form, resume_from=str(path), out=str(path), epochs=_epochs_to_resume(h.train_state, current),
                   overwrite=False)


def _epochs_to_resume(train_state: dict, current: TrainingForm) -> int:
    """An unfinished run continues to its own target; a finished one to the form's epochs if that is more,
    else it trains as long again."""
    target = int((train_state.get("train_config") or {}).get("epochs", current.epochs))
    done = int(train_state.get("step", 0)) // max(1, int(train_state.get("steps_per_epoch", 1)))
    if done < target:
        return target
    return current.epochs if current.epochs > done else done + target


def _recorded_spec(dataset: dict, path, fallback: str) -> str:
    """The recorded data when it may be used without asking (recorded_source.py); `fallback` when the file
    records none; RecordedSourceRefused (saying why) for a recorded path that is not a dataset folder."""
    ds = dataset or {}
    if ds.get("name") not in DATASET_NAMES and not ds.get("source"):
        return fallback
    return recorded_dataset(ds, path)


def _resumed_form(form: TrainingForm, kind: str, config, dataset: dict, train_state: dict,
                  dataset_spec: str) -> TrainingForm:
    ds, tc = dataset or {}, (train_state or {}).get("train_config") or {}
    return replace(form, family=recorded_family(kind, ds), dataset=dataset_spec, latent_dim=config.latent_dim,
                   beta=float(getattr(config, "beta", form.beta)),
                   consistency=float(getattr(config, "consistency", 0.0)),
                   batch_size=int(tc.get("batch_size", form.batch_size)), lr=float(tc.get("lr", form.lr)),
                   seed=int(tc.get("seed", form.seed)), mirror_shift=bool(tc.get("mirror_shift", False)),
                   condition=recorded_condition(kind, config, ds) if kind == "cvae" else form.condition)
