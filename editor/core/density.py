"""How likely is the current image, and has the current latent left the data? Qt-free.

VAE/CVAE: the ELBO and the importance-weighted log-likelihood (K samples, Burda et al.) of the decoded
image x_hat = decode(z), in nats. GAN: the discriminator's realness D/(1-D) of x_hat. Both: the distance
from z to the nearest data latent against the data's own 99th-percentile nearest-neighbour gap.

`density_of` calls the network: run it where the model lives (controller.run_on_model).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latent_atlas.models.latent.latent_math import NearestData

IW_SAMPLES = 64
CHUNK = 16           # rows per step of the density estimate, between which a waiting click goes first
OFF_DATA_QUANTILE = 0.99
WARN_COLOUR = "#ff9900"


@dataclass(frozen=True)
class Density:
    kind: str                          # "vae" (ELBO and IW), "gan" (realness), "none" (see note)
    elbo: float | None = None          # nats, of x_hat
    iw: float | None = None            # nats, importance-weighted estimate of log p(x_hat)
    k: int = 0
    realness: float | None = None      # D/(1-D) of x_hat
    note: str = ""                     # e.g. the discriminator was not converted
    distance: float | None = None      # to the nearest data latent
    threshold: float | None = None     # the data's own 99th-percentile nearest-neighbour distance
    pixels: int = 0                    # C*H*W, for nats per pixel

    @property
    def off_data(self) -> bool:
        return self.distance is not None and self.threshold is not None and self.distance > self.threshold


class OffDataCheck:
    """Per model: the data latents, their nearest-neighbour index and the 99th-percentile threshold, both
    built once on first use. Used from one thread only (the decode worker), so the caches need no lock."""

    def __init__(self, latents: np.ndarray, q: float = OFF_DATA_QUANTILE):
        self._data = np.ascontiguousarray(latents, np.float32)
        self._q = q
        self._index: NearestData | None = None
        self._threshold: float | None = None

    def _nearest(self) -> NearestData:
        if self._index is None:
            self._index = NearestData(self._data)
        return self._index

    @property
    def threshold(self) -> float | None:
        if self._threshold is None and len(self._data) >= 2:
            self._threshold = self._nearest().threshold(self._q)
        return self._threshold

    def distance(self, z: np.ndarray) -> float:
        return float(self._nearest().distance(torch.from_numpy(np.asarray(z, np.float32))))

    def leaves_data(self, z: np.ndarray) -> bool:
        t = self.threshold
        return t is not None and self.distance(z) > t

    def frames_off_data(self, zs: np.ndarray) -> np.ndarray:
        """(M,) bool: which latents of zs (M, D) lie farther from the data than the threshold."""
        t = self.threshold
        zs = np.asarray(zs, np.float32).reshape(-1, self._data.shape[1])
        if t is None or not len(zs):
            return np.zeros(len(zs), bool)
        return self._nearest().distance(torch.from_numpy(zs)).numpy() > t


def describe_off_frames(off: np.ndarray) -> str:
    """'frames 3-5 and 8 of 8 leave the data' for a (M,) bool mask; '' when none does."""
    runs, start = [], None
    for i, flag in enumerate([*map(bool, off), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append(f"{start + 1}" if i - 1 == start else f"{start + 1}–{i}")
            start = None
    if not runs:
        return ""
    listed = runs[0] if len(runs) == 1 else ", ".join(runs[:-1]) + " and " + runs[-1]
    one = int(np.count_nonzero(off)) == 1
    return f"{'frame' if one else 'frames'} {listed} of {len(off)} {'leaves' if one else 'leave'} the data"


def discriminator_note(dataset: dict | None) -> str:
    """What Checkpoint.dataset says about the discriminator of a converted GAN, if it matters."""
    state = str((dataset or {}).get("discriminator", ""))
    if state == "not converted":
        return "discriminator not converted: realness is meaningless"
    return ""


@torch.inference_mode()
def density_of(model, z: np.ndarray, condition: np.ndarray | None = None, off: OffDataCheck | None = None,
               k: int = IW_SAMPLES, seed: int = 0, note: str = "",
               should_stop: Callable[[], bool] = lambda: False) -> Density | None:
    """The numbers for one latent z (D,). The seed is fixed here so the same z gives the same numbers;
    fork_rng leaves the global generator as it was. Computed in chunks of CHUNK rows; None when should_stop()
    says an interactive decode is waiting (on a 64x64 RGB model the K=64 estimate costs a hundred decodes:
    a click must not queue behind it)."""
    zt = torch.from_numpy(np.asarray(z, np.float32)).to(model.device).unsqueeze(0)          # (1, D)
    c = None
    if model.cond_dim and condition is not None:
        c = torch.from_numpy(np.asarray(condition, np.float32)).to(model.device).unsqueeze(0)
    distance = threshold = None
    if off is not None:
        threshold, distance = off.threshold, off.distance(z)
    pixels = int(np.prod(model.image_shape))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x_hat = model.decode(zt, c)                                                        # (1, C, H, W)
        if model.can_encode and not getattr(model, "has_density", True):     # a user's module
            return Density("none", note="ELBO and log p(x) need the likelihood: open the module with "
                           "likelihood='bernoulli' or 'gaussian'", distance=distance, threshold=threshold,
                           pixels=pixels)
        if model.can_encode:
            # K copies in one batch: one decode of K rows instead of K decodes of one (the worker is
            # busy for milliseconds, not a quarter second). Each row is a one-sample estimate.
            elbos, log_ws = [], []
            for start in range(0, k, CHUNK):
                if should_stop():
                    return None
                n = min(CHUNK, k - start)
                xs = x_hat.expand(n, *x_hat.shape[1:])
                cs = None if c is None else c.expand(n, -1)
                elbos.append(model.elbo(xs, cs))
                log_ws.append(model.iw_log_likelihood(xs, cs, k=1))                      # (n,)
            elbo = float(torch.cat(elbos).mean())
            iw = float(torch.logsumexp(torch.cat(log_ws), 0) - math.log(k))
            return Density("vae", elbo=elbo, iw=iw, k=k, distance=distance, threshold=threshold, pixels=pixels)
        realness = float(model.realness(x_hat)[0]) if hasattr(model, "realness") else None
    return Density("gan", realness=realness, note=note, distance=distance, threshold=threshold, pixels=pixels)


def describe(d: Density) -> tuple[str, str]:
    """(numbers, warning) as text for the label; warning is "" while the latent stays near the data."""
    if d.kind == "vae":
        text = f"ELBO {d.elbo:.1f} nats · log p(x) ≈ {d.iw:.1f} nats (IW, K={d.k})"
        if d.pixels:
            text += f" · {d.iw / d.pixels:.3f} nats/pixel"
    elif d.kind == "none":
        text = d.note
    elif d.realness is None:
        text = "no discriminator: realness unavailable"
    else:
        text = f"realness D/(1−D) = {d.realness:.3g}"
        if d.note:
            text += f" ({d.note})"
    warning = ""
    if d.off_data:
        warning = (f"leaves the data: {d.distance:.2f} from the nearest data latent "
                   f"(99% of the data lie within {d.threshold:.2f} of a neighbour)")
    return text, warning
