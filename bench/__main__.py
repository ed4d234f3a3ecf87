"""`python -m bench`: every benchmark in one go (each prints its numbers and writes bench/results/*.json).

    python -m bench [NAME ...]      # names: click drag projection map startup training consistency
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {"click": "bench_click.py", "drag": "bench_drag.py", "projection": "bench_projection.py",
           "map": "bench_map.py", "startup": "bench_startup.py", "training": "bench_training_gui.py",
           "consistency": "bench_consistency.py"}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names or SCRIPTS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / SCRIPTS[name])], cwd=HERE.parent).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
