"""A description of the machine, stored with every benchmark result."""
from __future__ import annotations

import os
import platform


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
