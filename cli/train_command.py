"""`latent-atlas train`: the headless trainer with a tqdm progress bar.

Under torchrun each process runs this command as one rank of a distributed run (models/distributed.py):
only rank 0 prints, shows the bar and writes the checkpoint. A single-process run stops cleanly on the
first Ctrl-C (it saves a resumable checkpoint); a second Ctrl-C aborts.
"""
from __future__ import annotations

import os
import signal
import sys
import threading


def run_train(args) -> int:
    spec = spec_from_args(args)
    _named(lambda: spec.validate(check_out=os.environ.get("RANK", "0") == "0"))   # before torchrun joins
    from latent_atlas.models.errors import LatentAtlasError
    from latent_atlas.models.training import distributed as ddp

    ctx = ddp.init_distributed(args.device)
    try:
        return _train(args, spec, ctx)
    except LatentAtlasError as e:
        if ctx is not None and not ctx.is_main:   # the message with its rank (a SpecError's class takes a field)
            raise LatentAtlasError(f"rank {ctx.rank}: {e}") from None
        raise
    finally:
        ddp.shutdown(ctx)


# the command line's words for the RunSpec fields its messages name
FLAGS = {"family": "--model", "epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "seed": "--seed",
         "checkpoint_every": "--checkpoint-every", "latent_dim": "--latent-dim", "beta": "--beta",
         "consistency": "--consistency", "likelihood": "--likelihood", "image_size": "--image-size",
         "channels": "--channels", "limit": "--limit", "condition": "--condition", "dataset": "--dataset",
         "out": "--out", "resume": "--resume", "overwrite": "--overwrite",
         "mirror_shift": "--mirror-shift"}


def spec_from_args(args):
    """The RunSpec these arguments ask for (models/training/run_spec.py holds every rule)."""
    from latent_atlas.models.errors import ConfigError
    from latent_atlas.models.training.run_spec import DataSpec, ModelSpec, RunSpec

    if args.out is None and args.resume is None:
        raise ConfigError("--out is required (where to save the checkpoint)")
    return RunSpec(family=args.model,
                   data=DataSpec(args.dataset, image_size=args.image_size, channels=args.channels, limit=args.limit,
                                 attributes_file=args.attributes, font=args.font),
                   model=ModelSpec(latent_dim=args.latent_dim, beta=args.beta, consistency=args.consistency,
                                   likelihood=args.likelihood),
                   condition=args.condition, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                   seed=args.seed, checkpoint_every=args.checkpoint_every, device=args.device, out=args.out,
                   resume=args.resume, overwrite=args.overwrite, mirror_shift=args.mirror_shift)


def _named(step):
    """Runs step(); a RunSpec error comes out in the command line's words (its flags)."""
    from latent_atlas.models.data.recorded_source import RecordedSourceRefused
    from latent_atlas.models.training.run_spec import SpecError

    try:
        return step()
    except SpecError as e:
        raise e.named(FLAGS) from None
    except RecordedSourceRefused as e:
        raise RecordedSourceRefused(f"{e}; pass --dataset to say which data to train on") from None


def _train(args, spec, ctx) -> int:
    import torch

    from latent_atlas.models.training import distributed as ddp

    main = ctx is None or ctx.is_main
    run = _named(lambda: spec.build(distributed=ctx))
    data, trainer, model = run.data, run.trainer, run.model
    if main:
        for name, reason in data.skipped[:20]:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        if len(data.skipped) > 20:
            print(f"... and {len(data.skipped) - 20} more skipped files", file=sys.stderr)
    say = print if main else _silent
    restore = _stop_on_ctrl_c(trainer) if ctx is None else None   # before the first line: a test waits on it
    try:
        for w in trainer.warnings:
            say(f"warning: {w}", file=sys.stderr)
        n_params = sum(p.numel() for p in model.parameters())
        augmented = ", mirrored and shifted" if run.spec.mirror_shift else ""
        where = f"{ctx.world_size} processes ({ctx.backend}), {trainer.device.type}" if ctx else str(trainer.device)
        say(f"{'resuming' if args.resume else 'training'} {run.spec.family} ({model.kind}, {n_params:,} parameters) "
            f"on {data.name} ({len(data)} images {data.image_shape}{augmented}) "
            f"on {where}, {torch.get_num_threads()} threads")
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
