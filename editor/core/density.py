"""How likely is the current image, and has the current latent left the data? Qt-free.

VAE/CVAE: the ELBO and the importance-weighted log-likelihood (K samples, Burda et al.) of the decoded
image x_hat = decode(z), in nats. GAN: the discriminator's realness D/(1-D) of x_hat. Both: the distance
from z to the nearest data latent against the data's own 99th-percentile nearest-neighbour gap.

`density_of` calls the network: run it where the model lives (a DensityRequest to the decode worker).
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
PRIOR_SAMPLES = 1000    # prior draws whose distance to the data sets the off-data threshold
REFERENCE_LATENTS = 256 # data latents whose decoded ELBOs set the likelihood floor
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
    outside_prior: bool = False        # |z| beyond the prior's q-quantile shell
    elbo_floor: float | None = None    # the decoded data's q-lower ELBO quantile (VAE/CVAE)

    @property
    def far(self) -> bool:
        return self.distance is not None and self.threshold is not None and self.distance > self.threshold

    @property
    def unlikely(self) -> bool:
        return self.elbo is not None and self.elbo_floor is not None and self.elbo < self.elbo_floor

    @property
    def off_data(self) -> bool:
        return self.far or self.outside_prior or self.unlikely


class OffDataCheck:
    """Per model: is a latent, or the image it decodes to, unlike the data? Three tests, each built once
    on first use (on the decode worker; used from that thread only, so the caches need no lock):

    - distance: z is farther from its nearest data latent than the model's own samples go: the threshold is
      the larger of the data's and of PRIOR_SAMPLES prior draws' q-quantile nearest-data distance. (The data
      alone said 96% of the bundled VAE's prior samples "leave the data": posterior means are tighter than
      N(0, I), so a fresh "New image with this condition" was flagged, issue 15 finding 10.)
    - prior: |z|^2 beyond the chi-square(D) q-quantile: outside the prior's typical shell. In 64 dimensions
      a click far off the map moves only 2 of them; its nearest-data distance barely grows, its norm does.
    - likelihood (VAE/CVAE, in density_of): the ELBO of decode(z) below the q-lower quantile of the ELBOs of
      decoded data latents. A noise image encodes near the data but decodes to something the model finds
      unlikely (ELBO -538.9 nats against -150 to -300 for the data).
    """

    def __init__(self, latents: np.ndarray, q: float = OFF_DATA_QUANTILE):
        self._data = np.ascontiguousarray(latents, np.float32)
        self._q = q
        self._index: NearestData | None = None
        self._threshold: float | None = None
        self._norm_limit: float | None = None
        self._elbo_floors: dict[bytes, float] = {}

    def _nearest(self) -> NearestData:
        if self._index is None:
            self._index = NearestData(self._data)
        return self._index

    @property
    def threshold(self) -> float | None:
        if self._threshold is None and len(self._data) >= 2:
            prior = np.random.default_rng(0).standard_normal((PRIOR_SAMPLES, self._data.shape[1]))
            prior_gap = np.quantile(self._nearest().distance(torch.from_numpy(prior.astype(np.float32))).numpy(),
                                    self._q)
            self._threshold = max(self._nearest().threshold(self._q), float(prior_gap))
        return self._threshold

    @property
    def norm_limit(self) -> float:
        """|z| beyond which fewer than 1 - q of prior draws lie."""
        if self._norm_limit is None:
            from scipy.stats import chi2

            self._norm_limit = math.sqrt(float(chi2.ppf(self._q, self._data.shape[1])))
        return self._norm_limit

    def distance(self, z: np.ndarray) -> float:
        return float(self._nearest().distance(torch.from_numpy(np.asarray(z, np.float32))))

    def leaves_data(self, z: np.ndarray) -> bool:
        return bool(self.frames_off_data(np.asarray(z)[None])[0])

    def frames_off_data(self, zs: np.ndarray) -> np.ndarray:
        """(M,) bool: which latents of zs (M, D) fail the distance or the prior test."""
        t = self.threshold
        zs = np.asarray(zs, np.float32).reshape(-1, self._data.shape[1])
        if t is None or not len(zs):
            return np.zeros(len(zs), bool)
        far = self._nearest().distance(torch.from_numpy(zs)).numpy() > t
        return far | (np.linalg.norm(zs, axis=1) > self.norm_limit)

    def elbo_floor(self, model, c: torch.Tensor | None, should_stop: Callable[[], bool]) -> float | None:
        """The q-lower quantile of the ELBO of decode(z) over up to REFERENCE_LATENTS data latents (under
        condition c for a CVAE), cached per condition; None when should_stop() interrupts it."""
        key = b"" if c is None else c.cpu().numpy().tobytes()
        if key not in self._elbo_floors:
            rows = np.random.default_rng(1).permutation(len(self._data))[:REFERENCE_LATENTS]
            elbos = []
            for start in range(0, len(rows), CHUNK):
                if should_stop():
                    return None
                z = torch.from_numpy(self._data[rows[start:start + CHUNK]]).to(model.device)
                cs = None if c is None else c.expand(len(z), -1)
                elbos.append(model.elbo(model.decode(z, cs), cs))
            self._elbo_floors[key] = float(torch.quantile(torch.cat(elbos).float().cpu(), 1 - self._q))
        return self._elbo_floors[key]


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
    outside = False
    if off is not None:
        threshold, distance = off.threshold, off.distance(z)
        outside = bool(np.linalg.norm(np.asarray(z, np.float32)) > off.norm_limit)
    pixels = int(np.prod(model.image_shape))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x_hat = model.decode(zt, c)                                                        # (1, C, H, W)
        if model.can_encode and not getattr(model, "has_density", True):     # a user's module
            return Density("none", note="ELBO and log p(x) need the likelihood: open the module with "
                           "likelihood='bernoulli' or 'gaussian'", distance=distance, threshold=threshold,
                           pixels=pixels, outside_prior=outside)
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
            floor = None if off is None else off.elbo_floor(model, c, should_stop)
            if off is not None and floor is None:
                return None                   # gave way to a click while building the reference
            return Density("vae", elbo=elbo, iw=iw, k=k, distance=distance, threshold=threshold, pixels=pixels,
                           outside_prior=outside, elbo_floor=floor)
        realness = float(model.realness(x_hat)[0]) if hasattr(model, "realness") else None
    return Density("gan", realness=realness, note=note, distance=distance, threshold=threshold, pixels=pixels,
                   outside_prior=outside)


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
    reasons = []
    if d.far:
        reasons.append(f"{d.distance:.2f} from the nearest data latent (the data and the model's own samples "
                       f"lie within {d.threshold:.2f})")
    if d.outside_prior:
        reasons.append("|z| is beyond 99% of the prior's draws")
    if d.unlikely:
        reasons.append(f"ELBO {d.elbo:.1f} nats is below 99% of the data's decodes ({d.elbo_floor:.1f})")
    warning = "leaves the data: " + "; ".join(reasons) if reasons else ""
    return text, warning
