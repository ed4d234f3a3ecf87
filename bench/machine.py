"""A description of the machine, stored with every benchmark result, and the result files themselves."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def describe_machine() -> dict:
    import numpy
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}


def summary(values) -> dict:
    import numpy as np

    v = np.asarray(values, float)
    return {"n": int(v.size), "median": float(np.median(v)), "p95": float(np.percentile(v, 95)),
            "p05": float(np.percentile(v, 5)), "max": float(v.max()), "min": float(v.min())}


def write_results(name: str, results: dict, path: Path | None = None) -> Path:
    """bench/results/<name>.json (or `path`), written whole or not at all; prints where it went."""
    out = Path(path) if path is not None else RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return out
