"""`python -m bench`: every benchmark in one go (each prints its numbers and writes bench/results/*.json).

    python -m bench [NAME ...]      # names: click drag projection map startup training consistency tsne vectors kept_fits memory_format
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {"click": "bench_click", "drag": "bench_drag", "projection": "bench_projection",
           "map": "bench_map", "startup": "bench_startup", "training": "bench_training_gui",
           "consistency": "bench_consistency", "tsne": "bench_tsne", "vectors": "bench_vectors",
           "kept_fits": "bench_kept_fits", "memory_format": "bench_memory_format"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run the benchmarks (each prints "
                                     "median and spread and writes bench/results/NAME.json).")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"which to run (default: all): {', '.join(SCRIPTS)}")
    names = parser.parse_args(argv).names
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
    failed = []
    for name in names or SCRIPTS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{SCRIPTS[name]}"], cwd=HERE.parent).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
