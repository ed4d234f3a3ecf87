"""Rebuild everything in resources/: the Fashion-MNIST subset and the bundled checkpoints.

    python scripts/build_resources.py [--only NAME ...] [--epochs-scale 1.0] [--overwrite]

Each model is a RunSpec (models/training/run_spec.py) trained by the project's own trainer with a fixed seed
into a hidden full checkpoint, then saved slim (float16 weights, no optimiser state) so the folder stays
small. A full checkpoint left by a stopped build is refused, as every entry point refuses an existing
output: `--finish NAME FULL` saves it, `--overwrite` trains it again. Needs the full Fashion-MNIST IDX files
(apt-get install dataset-fashion-mnist). The shipped files were built one model per process with
OMP_NUM_THREADS=1 (the GAN takes about 30 minutes on one core, the CVAE 34 - half of it the
condition-consistency term -, the VAE 4).
"""
from __future__ import annotations

import argparse
import gzip
import json
import struct
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

from latent_atlas.models.checkpoints.atomic_io import atomic_write_bytes  # noqa: E402
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from latent_atlas.models.data import load_dataset  # noqa: E402
from latent_atlas.models.data.emoji_subset import write_subset  # noqa: E402
from latent_atlas.models.errors import DatasetError  # noqa: E402
from latent_atlas.models.registry import make_config  # noqa: E402
from latent_atlas.models.training.run_spec import DataSpec, ModelSpec, RunSpec  # noqa: E402
from latent_atlas.models.training.trainer import previous_path, thinned_history  # noqa: E402

MODELS = ROOT / "resources" / "models"
SUBSET = ROOT / "resources" / "fashion-mnist-subset"
SUBSET_SIZE = 2000

# name: (family, dataset, image size, config overrides, epochs, description, default): what ships, exactly
# (the Fashion-MNIST CVAE is beta 2, wider than the VAE and trained with the condition-consistency term:
# see docs/quality.md for why)
BUNDLE = {
    "fashion_vae": ("vae", "fashion-mnist", 28, {"latent_dim": 16, "hidden": 128}, 10,
                    "VAE (beta 1, z16) on Fashion-MNIST", True),
    "fashion_cvae": ("cvae", "fashion-mnist", 28, {"latent_dim": 16, "hidden": 256, "width": 64, "beta": 2.0,
                                                   "consistency": 3.0}, 20,
                     "Conditional VAE (beta 2, z16 + class) on Fashion-MNIST", False),
    "fashion_gan": ("gan", "fashion-mnist", 28, {"latent_dim": 64, "width": 64}, 20,
                    "DCGAN (z64) on Fashion-MNIST", False),
    "shapes_betavae": ("betavae", "shapes", 64, {"latent_dim": 10, "width": 16, "hidden": 128}, 8,
                       "beta-VAE (beta 4, z10) on procedural shapes, 64x64", False),
    # RGB emoji (models/data/emoji.py), narrow so the three stay under 8 MB together; the CVAE is conditioned on
    # the attribute columns (five skin tones, man, woman, person)
    # the emoji VAE trains on mirrored and shifted batches (held out, whole families are new shapes); the CVAE
    # trained so (240 epochs) lost condition accuracy, docs/quality.md
    "emoji_vae": ("vae", "emoji", 64, {"latent_dim": 32, "width": 16, "hidden": 128, "mirror_shift": True}, 480,
                  "VAE (beta 1, z32) on emoji, RGB 64x64", False),
    "emoji_cvae": ("cvae", "emoji", 64, {"latent_dim": 32, "width": 16, "hidden": 128, "condition": "attributes",
                                          "consistency": 3.0}, 120,
                   "Conditional VAE (z32 + skin tone and person) on emoji, RGB 64x64", False),
    # the DCGAN at 32x32 (the emoji set's small size) and width 16 fits the 25 MB budget; without differentiable
    # augmentation its discriminator memorised the ~3,000 emoji and won outright (64x64, width 24: noise)
    "emoji_gan": ("gan", "emoji", 32, {"latent_dim": 64, "width": 16, "augment": True}, 300,
                  "DCGAN (z64, differentiable augmentation) on emoji, RGB 32x32", False),
}


def write_idx_subset() -> None:
    """The first SUBSET_SIZE Fashion-MNIST test images and labels, in the IDX format (MIT licence)."""
    data = load_dataset("fashion-mnist", split="test")
    if "subset" in data.source:
        print("full Fashion-MNIST not found; keeping the existing subset")
        return
    SUBSET.mkdir(parents=True, exist_ok=True)
    images, labels = data.images[:SUBSET_SIZE, 0], data.labels[:SUBSET_SIZE].astype("uint8")
    n, h, w = images.shape
    with gzip.GzipFile(SUBSET / "t10k-images-idx3-ubyte.gz", "wb", mtime=0) as f:
        f.write(struct.pack(">IIII", 0x803, n, h, w) + images.tobytes())
    with gzip.GzipFile(SUBSET / "t10k-labels-idx1-ubyte.gz", "wb", mtime=0) as f:
        f.write(struct.pack(">II", 0x801, n) + labels.tobytes())
    print(f"wrote {SUBSET} ({n} images)")


def write_emoji_subset() -> None:
    """The bundled emoji subset (models/data/emoji_subset.py), drawn from the installed font and test file."""
    try:
        data = load_dataset("emoji", split="test")
    except DatasetError as e:
        print(f"emoji: {e}; keeping the existing subset")
        return
    if "bundled subset" in data.source:
        print("emoji packages not installed; keeping the existing subset")
        return
    print(f"wrote {write_subset(data)} (emoji subset)")


def bundle_spec(name: str, epochs_scale: float = 1.0, models: Path = MODELS, overwrite: bool = False) -> RunSpec:
    """The run that builds bundled model `name`, into the hidden full checkpoint models/.NAME.full.safetensors."""
    family, dataset, size, overrides, epochs, _, _ = BUNDLE[name]
    overrides = dict(overrides)
    condition = overrides.pop("condition", "labels")
    mirror_shift = overrides.pop("mirror_shift", False)     # a training choice, not the model's
    if overrides.pop("augment", False):          # a choice only a complete config carries (the GAN's augmentation)
        model = ModelSpec(config=make_config(family, {"image_shape": [3, size, size], "augment": True, **overrides}))
    else:
        model = ModelSpec(**overrides)
    return RunSpec(family=family, data=DataSpec(dataset, image_size=size), model=model,
                   condition=condition, epochs=max(1, round(epochs * epochs_scale)), seed=0,
                   mirror_shift=mirror_shift,
                   out=models / f".{name}.full.safetensors", overwrite=overwrite, bundled_ok=True)


def train(name: str, epochs_scale: float, models: Path = MODELS, overwrite: bool = False) -> None:
    spec = bundle_spec(name, epochs_scale, models, overwrite)
    run = spec.build()
    trainer, epochs = run.trainer, spec.epochs
    t0 = time.time()
    for event in trainer.run():
        if event.kind == "epoch":
            terms = {k: round(v[-1], 3) for k, v in trainer.history.items() if k not in ("step", "epoch")}
            print(f"{name}: epoch {event.epoch}/{epochs} {time.time() - t0:.0f}s {terms}", flush=True)
        elif event.kind == "warning":
            print(f"{name}: warning: {event.message}", flush=True)
    finish(name, spec.output(), models)
    print(f"{name}: saved in {time.time() - t0:.0f}s", flush=True)


BUNDLED_CURVE_POINTS = 5000    # per curve in a bundled file: a curve per step of a long run is 1 MB of header


def finish(name: str, full: Path, models: Path = MODELS) -> None:
    """The slim bundled file (float16 weights, no optimiser state) from a run's full checkpoint: at the end of
    train(), or (`--finish NAME FULL`) from the last checkpoint of a run stopped early, which records the epoch
    it reached."""
    ckpt = load_checkpoint(full)
    state = ckpt.train_state
    save_checkpoint(models / f"{name}.safetensors", ckpt.model, dataset=ckpt.dataset,
                    history=thinned_history(ckpt.history, BUNDLED_CURVE_POINTS),
                    train_state={"step": int(state.get("step", 0)), "epoch": int(state.get("epoch", 0)), "seed": 0,
                                 "train_config": state.get("train_config") or {}},
                    dtype=torch.float16)
    full.unlink()
    previous_path(full).unlink(missing_ok=True)


def write_index() -> None:
    index = [{"name": desc, "file": f"{name}.safetensors", "description": desc, "default": default}
             for name, (_, _, _, _, _, desc, default) in BUNDLE.items() if (MODELS / f"{name}.safetensors").exists()]
    atomic_write_bytes(MODELS / "index.json", (json.dumps(index, indent=1) + "\n").encode())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--only", nargs="*", choices=list(BUNDLE))
    p.add_argument("--epochs-scale", type=float, default=1.0)
    p.add_argument("--models-dir", type=Path, default=MODELS,
                   help="train into this folder instead (copy the files into resources/models/ afterwards)")
    p.add_argument("--overwrite", action="store_true", help="train again over a full checkpoint a stopped build "
                   "left (default: refuse it, so that --finish can save it)")
    p.add_argument("--finish", nargs=2, metavar=("NAME", "FULL"), help="only save NAME's bundled file from the "
                   "full checkpoint FULL of a run that was stopped early (the epoch it reached is recorded)")
    args = p.parse_args()
    args.models_dir.mkdir(parents=True, exist_ok=True)
    if args.finish:
        finish(args.finish[0], Path(args.finish[1]), args.models_dir)
        write_index()
        return
    write_idx_subset()
    write_emoji_subset()
    for name in args.only or BUNDLE:
        train(name, args.epochs_scale, args.models_dir, args.overwrite)
    write_index()


if __name__ == "__main__":
    main()
