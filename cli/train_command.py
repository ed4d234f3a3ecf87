"""`latent-atlas train`: the headless trainer with a tqdm progress bar."""
from __future__ import annotations

import sys
from pathlib import Path


def run_train(args) -> int:
    import torch
    from tqdm import tqdm

    from models.data import load_dataset
    from models.device import resolve_device
    from models.errors import ConfigError
    from models.model_factory import DEFAULT_LR, make_model_config
    from models.registry import build_model
    from models.trainer import Trainer
    from models.training_data import training_tensors
    from models.training_events import TrainConfig

    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    if args.lr is not None and not args.lr > 0:
        raise ConfigError("--lr must be positive")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ConfigError(f"cannot write {out}: folder {out.parent} does not exist")
    device = resolve_device(args.device)
    data = load_dataset(args.dataset, split="train", image_size=args.image_size, channels=args.channels,
                        limit=args.limit, seed=args.seed, attributes_file=args.attributes)
    for name, reason in data.skipped[:20]:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    if len(data.skipped) > 20:
        print(f"... and {len(data.skipped) - 20} more skipped files", file=sys.stderr)
    images, conditions, cond_names = training_tensors(data, args.model == "cvae", args.condition)
    kind, config = make_model_config(args.model, data.image_shape, latent_dim=args.latent_dim, beta=args.beta,
                                     cond_dim=0 if conditions is None else conditions.shape[1],
                                     likelihood=args.likelihood)
    if args.resume:
        from models.checkpoint import load_checkpoint
        resumed = load_checkpoint(args.resume)
        kind, config = resumed.kind, resumed.config
    model = build_model(kind, config)
    lr = args.lr if args.lr is not None else DEFAULT_LR[kind]
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=lr, seed=args.seed,
                               condition=args.condition, checkpoint_every=args.checkpoint_every,
                               check_every=1 if device.type == "cpu" else 20)
    dataset = {**data.describe(), "condition": args.condition if kind == "cvae" else None,
               "condition_names": cond_names, "family": args.model}
    trainer = Trainer(model, images, conditions, train_config, out=out, dataset=dataset, device=device,
                      resume_from=args.resume)
    for w in trainer.warnings:
        print(f"warning: {w}", file=sys.stderr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {args.model} ({kind}, {n_params:,} parameters) on {data.name} "
          f"({len(data)} images {data.image_shape}) on {device}, {torch.get_num_threads()} threads")
    bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", disable=args.quiet,
               dynamic_ncols=True, file=sys.stderr)
    last = None
    for event in trainer.run():
        if event.kind == "progress":
            bar.update(event.step - bar.n)
            shown = {k: f"{v:.3g}" for k, v in event.terms.items() if k != "loss"}
            bar.set_postfix(shown | {"img/s": f"{event.images_per_s:.0f}"}, refresh=False)
        elif event.kind == "warning":
            bar.write(f"warning: {event.message}", file=sys.stderr)
        last = event
    bar.close()
    terms = ", ".join(f"{k} {v:.4g}" for k, v in (trainer.history and
                      {k: v[-1] for k, v in trainer.history.items() if k not in ("step", "epoch")}).items())
    print(f"{last.kind} at step {last.step} in {last.elapsed_s:.1f} s; last: {terms}")
    print(f"saved {trainer.last_saved}")
    return 0
