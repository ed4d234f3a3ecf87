"""A duration as a person reads it on a progress line: '4:38', '1:02:05'; '–' when not known yet."""
from __future__ import annotations

import math


def clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    s = max(0, round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
