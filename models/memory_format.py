"""Which memory layout a model decodes fastest in on this machine: NCHW (PyTorch's default) or channels_last.

Measured, not assumed (`python -m bench.bench_memory_format --runs 5 --decodes 30`, 2-core CPU, 2026-12-03,
best of 30 per layout, median of 5 runs): a 16-frame strip of the bundled emoji VAE (64x64 RGB) decodes in 5.1 ms
channels_last against 8.2 ms NCHW (ratio 0.63), the emoji CVAE 0.77, the shapes beta-VAE 0.89, while the
Fashion-MNIST GAN's is the same in both (1.01). The decode worker times both on a strip-sized batch once a
model is in and keeps the faster; the pixels are the same either way (to float rounding).
"""
from __future__ import annotations

import time
from collections.abc import Callable

CHANNELS_LAST, CONTIGUOUS = "channels_last", "contiguous"
MARGIN = 0.9        # channels_last is kept only when its best time is under 0.9 of NCHW's: timings jitter


def has_conv_weights(model) -> bool:
    return any(p.dim() == 4 for p in model.parameters())


def probe_inputs(model, batch: int):
    """A fixed batch of latents (and a zero condition for a conditional model) on the model's device."""
    import torch

    z = torch.randn(batch, model.latent_dim, generator=torch.Generator().manual_seed(0)).to(model.device)
    cond_dim = getattr(model, "cond_dim", 0) or 0
    c = torch.zeros(batch, cond_dim, device=model.device) if cond_dim else None
    return z, c


def time_formats(model, batch: int = 16, repeats: int = 4,
                 should_stop: Callable[[], bool] = lambda: False) -> dict[str, float] | None:
    """Best decode time (s) of a `batch` in each layout, alternating them so that a busy spell hits both;
    None when `should_stop` turned true between two decodes. Leaves the model in NCHW."""
    import torch

    z, c = probe_inputs(model, batch)
    best = {CONTIGUOUS: float("inf"), CHANNELS_LAST: float("inf")}
    formats = {CONTIGUOUS: torch.contiguous_format, CHANNELS_LAST: torch.channels_last}
    try:
        with torch.inference_mode():
            for i in range(repeats + 1):                  # the first round warms up both layouts
                for name, memory_format in formats.items():
                    if should_stop():
                        return None
                    model.to(memory_format=memory_format)
                    t0 = time.perf_counter()
                    model.decode(z, c)
                    if model.device.type == "cuda":        # the GPU's work, not just its launch
                        torch.cuda.synchronize(model.device)
                    elif model.device.type == "mps":
                        torch.mps.synchronize()
                    if i:
                        best[name] = min(best[name], time.perf_counter() - t0)
    finally:
        model.to(memory_format=torch.contiguous_format)
    return best


def use_fastest_format(model, batch: int = 16, should_stop: Callable[[], bool] = lambda: False) -> str | None:
    """Puts `model` in the layout that decodes a `batch` fastest; returns its name, or None when interrupted
    (the model is then in NCHW). A model without convolutions stays as it is."""
    import torch

    if not has_conv_weights(model):
        return CONTIGUOUS
    best = time_formats(model, batch, should_stop=should_stop)
    if best is None:
        return None
    if best[CHANNELS_LAST] < MARGIN * best[CONTIGUOUS]:
        model.to(memory_format=torch.channels_last)
        return CHANNELS_LAST
    return CONTIGUOUS
