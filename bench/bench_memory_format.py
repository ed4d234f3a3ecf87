"""Decode time of a 16-frame strip in each memory layout (NCHW, channels_last), one torch thread, for each
bundled model: what the decode worker's choice (models/memory_format.py) picks from and what it gains.

    python -m bench.bench_memory_format [--runs 5] [--decodes 40] [FILE ...]

Each run times `--decodes` decodes per layout with the worker's own timing (time_formats: the layouts
interleaved so a busy spell hits both, the best of each); prints the median over runs, the spread (min-max),
the ratio channels_last / NCHW (under 1: channels_last is faster) and what use_fastest_format chose. Writes bench/results/memory_format.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from bench.machine import describe_machine, summary, write_results
from latent_atlas.models.bundled_files import resource_path
from latent_atlas.models.memory_format import CHANNELS_LAST, CONTIGUOUS, time_formats, use_fastest_format


def one_run(model, frames: int, decodes: int) -> dict[str, float]:
    """Best of `decodes` per layout, in ms: the worker's own timing (time_formats), longer."""
    return {name: t * 1e3 for name, t in time_formats(model, frames, repeats=decodes).items()}


def main() -> int:
    from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--decodes", type=int, default=40)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = args.files or sorted(Path(resource_path("models")).glob("*.safetensors"))
    results = {}
    for path in files:
        model = load_checkpoint(path).model.eval()
        runs = [one_run(model, args.frames, args.decodes) for _ in range(args.runs)]
        ratio = summary([r[CHANNELS_LAST] / r[CONTIGUOUS] for r in runs])
        chosen = use_fastest_format(model, args.frames)
        row = {name: summary([r[name] for r in runs]) for name in (CONTIGUOUS, CHANNELS_LAST)}
        results[path.name] = {**row, "ratio_channels_last_to_nchw": ratio, "chosen": chosen}
        print(f"{path.name:28s} NCHW {row[CONTIGUOUS]['median']:6.2f} ms ({row[CONTIGUOUS]['min']:.2f}-"
              f"{row[CONTIGUOUS]['max']:.2f})  channels_last {row[CHANNELS_LAST]['median']:6.2f} ms "
              f"({row[CHANNELS_LAST]['min']:.2f}-{row[CHANNELS_LAST]['max']:.2f})  ratio {ratio['median']:.2f} "
              f"({ratio['min']:.2f}-{ratio['max']:.2f})  chosen: {chosen}", flush=True)
    write_results("memory_format", {"benchmark": "16-frame decode per memory layout, one thread",
                                    "runs": args.runs, "decodes_per_run": args.decodes, "models": results,
                                    "machine": describe_machine()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
