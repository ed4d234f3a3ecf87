"""`latent-atlas train`: the headless trainer with a tqdm progress bar.

Under torchrun each process runs this command as one rank of a distributed run (models/distributed.py):
only rank 0 prints, shows the bar and writes the checkpoint. A single-process run stops cleanly on the
first Ctrl-C (it saves a resumable checkpoint); a second Ctrl-C aborts.
"""
from __future__ import annotations

import signal
import sys
import tempfile
import threading
from pathlib import Path


def run_train(args) -> int:
    _check_numbers(args)                             # before importing torch: a typo fails at once
    from latent_atlas.models.errors import LatentAtlasError
    from latent_atlas.models.training import distributed as ddp

    ctx = ddp.init_distributed(args.device)
    try:
        return _train(args, ctx)
    except LatentAtlasError as e:
        if ctx is not None and not ctx.is_main:
            raise type(e)(f"rank {ctx.rank}: {e}") from None
        raise
    finally:
        ddp.shutdown(ctx)


def _check_numbers(args) -> None:
    from latent_atlas.models.errors import ConfigError

    for name in ("epochs", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.lr is not None and not args.lr > 0:
        raise ConfigError("--lr must be positive")
    if args.checkpoint_every is not None and args.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be 0 (each epoch) or a number of steps, got {args.checkpoint_every}")
    if args.out is None and args.resume is None:
        raise ConfigError("--out is required (where to save the checkpoint)")


def _train(args, ctx) -> int:
    import torch

    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.device import resolve_device
    from latent_atlas.models.errors import ConfigError
    from latent_atlas.models.registry import build_model
    from latent_atlas.models.training import distributed as ddp
    from latent_atlas.models.training.events import TrainConfig
    from latent_atlas.models.training.trainer import Trainer, load_for_resume
    from latent_atlas.models.training.training_data import training_tensors

    main = ctx is None or ctx.is_main
    out = Path(args.out or args.resume)
    if main:
        _check_writable(out)
    device = ctx.device if ctx is not None else resolve_device(args.device)
    resumed = load_for_resume(args.resume)[0] if args.resume else None
    plan = _plan(args, resumed)
    data = load_dataset(plan["dataset"], split="train", image_size=plan["image_size"], channels=plan["channels"],
                        limit=args.limit, seed=plan["seed"], attributes_file=args.attributes,
                        font=args.font)
    if main:
        for name, reason in data.skipped[:20]:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        if len(data.skipped) > 20:
            print(f"... and {len(data.skipped) - 20} more skipped files", file=sys.stderr)
    images, conditions, cond_names = training_tensors(data, plan["family"] == "cvae", plan["condition"])
    kind, config = _model_config(args, plan, resumed, data, conditions)
    torch.manual_seed(plan["seed"])                  # the initial weights, reproducible from --seed
    model = build_model(kind, config)
    train_config = TrainConfig(epochs=args.epochs, batch_size=plan["batch_size"], lr=plan["lr"], seed=plan["seed"],
                               condition=plan["condition"], checkpoint_every=args.checkpoint_every,
                               check_every=1 if device.type == "cpu" else 20)
    dataset = {**data.describe(), "condition": plan["condition"] if kind == "cvae" else None,
               "condition_names": cond_names, "family": plan["family"]}
    trainer = Trainer(model, images, conditions, train_config, out=out, dataset=dataset, device=device,
                      resume_from=args.resume, distributed=ctx)
    if trainer.step >= trainer.total_steps:
        done = trainer.step // trainer.steps_per_epoch
        raise ConfigError(f"{args.resume} has trained {done} epochs already: pass --epochs above {done}")
    say = print if main else _silent
    restore = _stop_on_ctrl_c(trainer) if ctx is None else None   # before the first line: a test waits on it
    try:
        for w in trainer.warnings:
            say(f"warning: {w}", file=sys.stderr)
        n_params = sum(p.numel() for p in model.parameters())
        where = f"{ctx.world_size} processes ({ctx.backend}), {device.type}" if ctx else str(device)
        say(f"{'resuming' if args.resume else 'training'} {plan['family']} ({kind}, {n_params:,} parameters) on "
            f"{data.name} ({len(data)} images {data.image_shape}) on {where}, {torch.get_num_threads()} threads")
        last = _loop(trainer, quiet=args.quiet or not main, main=main)
    finally:
        if restore is not None:
            signal.signal(signal.SIGINT, restore)
    ddp.write_test_hash(model, ctx.rank if ctx else 0)
    last_terms = {k: v[-1] for k, v in trainer.history.items() if k not in ("step", "epoch") and v}
    say(f"{last.kind} at step {last.step} in {last.elapsed_s:.1f} s; last: "
        + ", ".join(f"{k} {v:.4g}" for k, v in last_terms.items()))
    say(f"saved {trainer.last_saved}")
    if last.kind == "stopped":
        say(f"continue with: latent-atlas train --resume {trainer.last_saved} --epochs {args.epochs}")
        return 130
    return 0


def _loop(trainer, quiet: bool, main: bool):
    """Run the trainer behind a tqdm bar; returns the last event."""
    from tqdm import tqdm

    bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", disable=quiet,
               dynamic_ncols=True, file=sys.stderr)
    last = None
    try:
        for event in trainer.run():
            if event.kind == "progress":
                bar.update(event.step - bar.n)
                shown = {k: f"{v:.3g}" for k, v in event.terms.items() if k != "loss"}
                bar.set_postfix(shown | {"img/s": f"{event.images_per_s:.0f}"}, refresh=False)
            elif event.kind == "warning" and main:
                bar.write(f"warning: {event.message}", file=sys.stderr)
            last = event
    finally:
        bar.close()
    return last


def _plan(args, resumed) -> dict:
    """What to train on and how: the arguments, with a resumed checkpoint's choices as defaults."""
    from latent_atlas.models.errors import ConfigError
    from latent_atlas.models.model_factory import DEFAULT_LR

    saved_ds = resumed.dataset if resumed else {}
    saved_tc = (resumed.train_state.get("train_config") or {}) if resumed else {}
    family = saved_ds.get("family") or (resumed.kind if resumed else None)
    if resumed is not None:
        if args.model and args.model != family:
            raise ConfigError(f"{args.resume} holds a {family}; it cannot resume as --model {args.model}")
        for flag, value in (("--latent-dim", args.latent_dim), ("--beta", args.beta),
                            ("--consistency", args.consistency),
                            ("--image-size", args.image_size), ("--channels", args.channels)):
            if value is not None:
                raise ConfigError(f"{flag} cannot change when resuming {args.resume}: it is fixed by the checkpoint")
    family = family or args.model or "vae"
    spec = args.dataset or (_recorded_data(saved_ds, args.resume) if resumed else "digits")
    c, h, w = resumed.config.image_shape if resumed else (args.channels, args.image_size, args.image_size)
    seed = args.seed if args.seed is not None else int(saved_tc.get("seed", 0))
    kind_lr = DEFAULT_LR["gan" if family == "gan" else "cvae" if family == "cvae" else "vae"]
    return {"family": family, "dataset": spec, "image_size": h if h == w else None, "channels": c,
            "seed": seed, "batch_size": args.batch_size or int(saved_tc.get("batch_size", 128)),
            "lr": args.lr or float(saved_tc.get("lr", kind_lr)),
            "condition": args.condition or saved_ds.get("condition") or saved_tc.get("condition") or "labels"}


def _recorded_data(saved_ds: dict, path) -> str:
    """The data a resumed checkpoint records, if it may be used without asking (recorded_source.py)."""
    from latent_atlas.models.data.recorded_source import RecordedSourceRefused, recorded_dataset

    try:
        return recorded_dataset(saved_ds, path)
    except RecordedSourceRefused as e:
        raise RecordedSourceRefused(f"{e}; pass --dataset to say which data to train on") from None


def _model_config(args, plan, resumed, data, conditions):
    from latent_atlas.models.model_factory import make_model_config

    if resumed is None:
        return make_model_config(plan["family"], data.image_shape, latent_dim=args.latent_dim, beta=args.beta,
                                 cond_dim=0 if conditions is None else conditions.shape[1],
                                 likelihood=args.likelihood, consistency=args.consistency,
                                 condition=plan["condition"])
    from latent_atlas.models.training.training_data import check_resume_fits

    check_resume_fits(args.resume, resumed.config, data, conditions, plan["condition"])
    return resumed.kind, resumed.config


def _check_writable(out: Path) -> None:
    from latent_atlas.models.errors import ConfigError

    if out.is_dir():
        raise ConfigError(f"cannot write {out}: it is a folder")
    if not out.parent.is_dir():
        raise ConfigError(f"cannot write {out}: folder {out.parent} does not exist")
    try:   # find out now, not after the first epoch
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as e:
        raise ConfigError(f"cannot write {out}: folder {out.parent} is not writable ({e.strerror or e})") from None


def _stop_on_ctrl_c(trainer):
    """First Ctrl-C: stop after this step and save; the handler then steps aside so a second one aborts."""
    from tqdm import tqdm

    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGINT)

    def handler(_signum, _frame):
        signal.signal(signal.SIGINT, previous)
        trainer.stop()
        tqdm.write("stopping after this step and saving a checkpoint (Ctrl-C again to abort)", file=sys.stderr)
    signal.signal(signal.SIGINT, handler)
    return previous


def _silent(*_args, **_kwargs) -> None:
    pass
