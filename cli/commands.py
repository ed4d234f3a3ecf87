"""`latent-atlas info | sample | convert | evaluate`, and the table of subcommands."""
from __future__ import annotations

import json
import math

from latent_atlas.cli.directions_command import run_directions
from latent_atlas.cli.train_command import run_train


def run_info(args) -> int:
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.file)
    n_params = sum(p.numel() for p in ckpt.model.parameters())
    ds = ckpt.dataset or {}
    print(f"file:       {ckpt.path}")
    print(f"kind:       {ckpt.kind} ({n_params:,} parameters)")
    print(f"config:     {json.dumps(ckpt.config.__dict__)}")
    print(f"dataset:    {ds.get('name', 'unknown')} {ds.get('image_shape', '')}, {ds.get('n', '?')} images")
    for key in ("label_names", "condition_names"):
        if ds.get(key):
            more = f" and {len(ds[key]) - 50} more" if len(ds[key]) > 50 else ""
            print(f"{key + ':':<11} {', '.join(map(str, ds[key][:50]))}{more}")
    hist = ckpt.history or {}
    if hist.get("step"):     # values are numbers or null (parse_metadata); null, NaN and inf print as they are
        last = {k: v[-1] for k, v in hist.items() if k not in ("step", "epoch") and v}
        print(f"history:    {len(hist['step'])} points to step {_count(hist['step'][-1])}, epoch "
              f"{_count((hist.get('epoch') or [0])[-1], 1)}; last "
              + ", ".join(f"{k[:40]} {_number(v)}" for k, v in list(last.items())[:20]))
    else:
        print("history:    none")
    training = _training_line((ckpt.train_state or {}).get("train_config"))
    if training:
        print(f"training:   {training}")
    if ckpt.vectors:
        names = list(ckpt.vectors)
        print(f"vectors:    {', '.join(names[:50])}" + (f" and {len(names) - 50} more" if len(names) > 50 else ""))
    return 0


def _training_line(tc) -> str:
    """The recorded run's choices that a new run would have to repeat (the file's own words, numbers only)."""
    if not isinstance(tc, dict):
        return ""
    parts = [f"{label} {_number(tc[key])}" for key, label in (("epochs", "epochs"), ("batch_size", "batch size"),
                                                            ("lr", "lr"), ("seed", "seed"))
             if isinstance(tc.get(key), (int, float)) and not isinstance(tc.get(key), bool)]
    if tc.get("mirror_shift") is True:
        parts.append("mirrored and shifted (--mirror-shift)")
    return ", ".join(parts)


def _count(value, plus: int = 0) -> str:
    return str(int(value) + plus) if isinstance(value, (int, float)) and math.isfinite(value) else str(value)


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def _condition_for(ckpt, label: str | None):
    import torch

    from latent_atlas.models.errors import ConfigError

    if ckpt.model.cond_dim == 0:
        if label is not None:
            raise ConfigError(f"{ckpt.path} is a {ckpt.kind}; --label needs a CVAE")
        return None
    names = [str(n) for n in (ckpt.dataset.get("condition_names") or range(ckpt.model.cond_dim))]
    if label is None:
        raise ConfigError(f"{ckpt.path} is a CVAE: choose --label from {', '.join(names)}")
    if label in names:
        index = names.index(label)
    elif label.isdigit() and int(label) < len(names):
        index = int(label)
    else:
        raise ConfigError(f"unknown label {label!r}; choose from {', '.join(names)}")
    return torch.nn.functional.one_hot(torch.tensor(index), len(names)).float()


def run_sample(args) -> int:
    import torch
    from PIL import Image

    from latent_atlas.models.checkpoints.atomic_io import atomic_write
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
    from latent_atlas.models.data.image_grid import make_grid, to_uint8, upscale
    from latent_atlas.models.errors import ConfigError

    if not 1 <= args.n <= 4096:
        raise ConfigError("--n must be within 1..4096")
    ckpt = load_checkpoint(args.file)
    c = _condition_for(ckpt, args.label)
    with torch.inference_mode():
        g = torch.Generator().manual_seed(args.seed)
        images = ckpt.model.sample(args.n, c, temperature=args.temperature, generator=g)
    grid = upscale(make_grid(to_uint8(images)), max(1, args.scale))
    img = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    atomic_write(args.out, lambda tmp: img.save(tmp, format="PNG"))
    print(f"wrote {args.out} ({args.n} samples, {grid.shape[1]}x{grid.shape[0]} px)")
    return 0


def run_convert(args) -> int:
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
    from latent_atlas.models.checkpoints.convert import convert_checkpoint

    out = convert_checkpoint(args.file, args.arch, args.out, discriminator=args.discriminator,
                             condition_names=args.condition_names, output_range=args.output_range)
    ckpt = load_checkpoint(out)             # what was recognised, as the editor will open it
    c, h, w = ckpt.model.image_shape
    conditions = f", {ckpt.model.cond_dim} conditions" if ckpt.model.cond_dim else ""
    print(f"wrote {out}: {ckpt.dataset.get('converted_arch')} as a {ckpt.kind}, {c}x{h}x{w} images, "
          f"latent {ckpt.model.latent_dim}{conditions}")
    return 0


def run_evaluate(args) -> int:
    import sys
    import tempfile

    from latent_atlas.models.errors import ConfigError
    from latent_atlas.models.quality.report import full_report, load_quality_context

    if args.reference and args.epochs is None:
        args.epochs = _trained_epochs(args.file)
    if args.reference and args.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {args.epochs}")
    ctx = load_quality_context(args.samples) if args.quality else None
    options = {"dataset": args.dataset, "k": args.k, "limit": args.limit or None, "seed": args.seed}
    reports = [full_report(args.file, ctx, **options)]
    if args.reference:
        from latent_atlas.models.quality.reference_vae import train_reference_vae

        def progress(event):
            if event.kind == "epoch":
                print(f"reference VAE: epoch {event.epoch}/{args.epochs} ({event.elapsed_s:.0f} s)",
                      file=sys.stderr, flush=True)

        with tempfile.TemporaryDirectory() as tmp:
            ref = train_reference_vae(f"{tmp}/reference_vae.safetensors", args.epochs, seed=args.seed,
                                      on_event=progress)
            reports.append(full_report(ref, ctx, **{**options, "dataset": "fashion-mnist"}))
        reports[1]["file"] = f"reference VAE (784-400-20 MLP, {args.epochs} epochs)"
    if ctx is not None:
        print(f"quality: {len(ctx.test_images)} samples against {ctx.source}; the classifier is right on "
              f"{ctx.real_accuracy:.4f} of these test images", file=sys.stderr)
    for key in dict.fromkeys(k for r in reports for k in r):
        cells = [_cell(r.get(key, "")) for r in reports]
        print(f"{key:<30} " + "  ".join(f"{c:<12}" for c in cells).rstrip())
    return 0


def _trained_epochs(path) -> int:
    """Epochs in the checkpoint's history (the reference trains as long), or 10 without a history."""
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

    epochs = (load_checkpoint(path).history or {}).get("epoch") or []
    return int(epochs[-1]) + 1 if epochs else 10


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def run_render(args) -> int:
    from latent_atlas.editor.core.recipe import read_recipe
    from latent_atlas.editor.core.render import render_recipe

    if read_recipe(args.recipe).get("map_view"):     # a map is drawn by the editor's own map (Qt, offscreen)
        from latent_atlas.editor.map.map_view_render import render_map_view

        out = render_map_view(args.recipe, args.out, checkpoint=args.checkpoint)
    else:
        out = render_recipe(args.recipe, args.out, checkpoint=args.checkpoint)
    print(f"wrote {out}")
    return 0


COMMANDS = {"render": run_render, "train": run_train, "info": run_info, "sample": run_sample, "convert": run_convert,
            "evaluate": run_evaluate, "directions": run_directions}
