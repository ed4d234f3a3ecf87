"""What the CVAE's condition-consistency term costs: training images per second of the bundled CVAE's
architecture (beta 2, z16, width 64, hidden 256) on Fashion-MNIST with the term at weight 3, divided by the
same model without it, both through the project's Trainer in the same run, alternating.

    python -m bench.bench_consistency [--runs 3] [--images 6016] [--threads N]

Each run trains one epoch of `--images` training images (batch 128) from the same seed; the first 4 steps of
each run are warm-up and not timed. Writes bench/results/consistency.json.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch  # noqa: E402

from bench.machine import describe_machine, summary, write_results  # noqa: E402

WARMUP_STEPS = 4


def consistency_spec(weight: float, n_images: int):
    """One epoch of the bundled CVAE's architecture with the term at `weight`; no file is written."""
    from latent_atlas.models.training.run_spec import DataSpec, ModelSpec, RunSpec

    return RunSpec(family="cvae", data=DataSpec("fashion-mnist", image_size=28, limit=n_images),
                   model=ModelSpec(latent_dim=16, hidden=256, width=64, beta=2.0, consistency=weight),
                   epochs=1, batch_size=128, lr=1e-3, seed=0, event_interval=0.0)


def images_per_second(weight: float, n_images: int) -> tuple[float, object]:
    """(images/s after the warm-up steps, the data trained on)."""
    run = consistency_spec(weight, n_images).build()
    trainer = run.trainer
    start = None
    start_step = 0
    for _ in trainer.run():
        if start is None and trainer.step >= WARMUP_STEPS:
            start, start_step = time.perf_counter(), trainer.step
    steps = trainer.step - start_step
    return steps * 128 / (time.perf_counter() - start), run.data


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--images", type=int, default=6016)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = p.parse_args(argv)
    if args.images < 128 * (WARMUP_STEPS + 4):
        p.error(f"--images must be at least {128 * (WARMUP_STEPS + 4)}: "
                f"{WARMUP_STEPS} warm-up steps, then 4 timed")
    if args.threads:
        torch.set_num_threads(args.threads)
    rates = {0.0: [], 3.0: []}
    data = None
    for _ in range(args.runs):
        for weight, found in rates.items():        # alternate, so drift in the machine hits both alike
            rate, data = images_per_second(weight, args.images)
            found.append(rate)
    images = data.images
    plain, term = summary(rates[0.0]), summary(rates[3.0])
    ratios = [b / a for a, b in zip(rates[0.0], rates[3.0])]
    print(f"data: {data.source} ({len(images)} images), {torch.get_num_threads()} threads, {args.runs} runs")
    for name, s in (("CVAE without the term:  ", plain), ("CVAE with consistency 3:", term)):
        print(f"{name}  {s['median']:8.0f} images/s (min {s['min']:.0f}, max {s['max']:.0f})")
    r = summary(ratios)
    print(f"ratio with / without:     {r['median']:8.3f} (min {r['min']:.3f}, max {r['max']:.3f})")
    write_results("consistency", {"machine": describe_machine(), "images": len(images), "runs": args.runs,
                                  "images_per_s_plain": plain, "images_per_s_consistency_3": term,
                                  "ratio": r, "data": data.source})
    return 0


if __name__ == "__main__":
    sys.exit(main())
