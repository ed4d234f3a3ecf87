"""Your own image -> a latent, Qt-free: read and fit the file to the model, then encode (VAE/CVAE) or
invert by optimisation (GAN: Adam on z, several random restarts at once, MSE + a small prior penalty).

Threads: `encode_image` runs on the decode worker (which owns the model); `copy_for_inversion` too, and
`invert_gan` then runs in a job thread on that private copy, so no nn.Module is shared across threads.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from latent_atlas.editor.core.loaded_model import Cancelled
from latent_atlas.models.errors import LatentAtlasError
from latent_atlas.models.safe_files import open_regular

MAX_PIXELS = 100_000_000      # refuse decompression bombs (PIL warns at 89 M)
MIN_SIDE_SHARE = 4            # an image side under 1/4 of the model's is refused
PROGRESS_EVERY = 10           # steps between progress reports: ~10 per second at CPU speed


class ImageFileError(LatentAtlasError):
    """An image file cannot be read or used as model input."""


def is_image_file(path: str | Path) -> bool:
    """True when PIL recognises the file as an image (by its bytes, never its extension)."""
    try:   # open_regular first: PIL would wait forever on a dropped FIFO
        with open_regular(path, ImageFileError, "image file") as f, Image.open(f) as img:
            img.verify()
        return True
    except Exception:   # noqa: BLE001 - any failure means "not an image we can read"
        return False


def read_image(path: str | Path, image_shape: tuple[int, int, int]) -> np.ndarray:
    """The file as model input: centre crop to the model's aspect, LANCZOS resize, the model's channels.
    Returns (C, H, W) uint8. Raises ImageFileError naming the file."""
    return read_image_noted(path, image_shape)[0]


def read_image_noted(path: str | Path, image_shape: tuple[int, int, int]) -> tuple[np.ndarray, str]:
    """read_image, and a few words on how the file was fitted to the model ("" when it already fitted),
    for the status line: a user should know that an 8x8 image was enlarged 3.5 times. An image smaller
    than a quarter of the model's side on either axis is refused: nothing of it would survive."""
    path = Path(path)
    c, h, w = image_shape
    try:   # a FIFO (PIL would wait on it forever), a device or a folder: refused before it is read
        with open_regular(path, ImageFileError, "image file") as f, Image.open(f) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageFileError(f"{path}: image of {img.width}x{img.height} pixels is too large "
                                     f"(more than {MAX_PIXELS:,})")
            if img.width * MIN_SIDE_SHARE < w or img.height * MIN_SIDE_SHARE < h:
                raise ImageFileError(
                    f"{path}: the image is {img.width}x{img.height} pixels, too small for this model's "
                    f"{w}x{h} input (at least {-(-w // MIN_SIDE_SHARE)}x{-(-h // MIN_SIDE_SHARE)})")
            note = _fit_note(img.width, img.height, w, h)
            img = ImageOps.exif_transpose(img)
            img = _flatten_alpha(img).convert("L" if c == 1 else "RGB")
            img = ImageOps.fit(img, (w, h), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
            arr = np.asarray(img, np.uint8)
    except ImageFileError:
        raise
    except UnidentifiedImageError:
        raise ImageFileError(f"{path}: not an image file PIL can read (PNG, JPEG, BMP, GIF, ...)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageFileError(f"{path}: cannot read the image ({e})") from None
    arr = arr[..., None] if arr.ndim == 2 else arr          # (H, W, C)
    return arr.transpose(2, 0, 1).copy(), note               # writable, contiguous (C, H, W)


def _fit_note(width: int, height: int, w: int, h: int) -> str:
    if (width, height) == (w, h):
        return ""
    scale = min(width / w, height / h)         # ImageOps.fit scales the side that fits, crops the other
    cropped = round(width / scale) != w or round(height / scale) != h
    how = f"enlarged {1 / scale:.1f}x" if scale < 1 else f"reduced {scale:.1f}x" if scale > 1 else "kept"
    return f"{width}x{height} {how}{', centre cropped' if cropped else ''} to {w}x{h}"


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Transparent pixels become black, the background the datasets (digits, MNIST) use."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba)
    return img


def as_input(image: np.ndarray, device) -> torch.Tensor:
    """(C, H, W) uint8 -> (1, C, H, W) float in [0, 1] on device."""
    return torch.from_numpy(image).to(device).float().div(255.0).unsqueeze(0)


@torch.inference_mode()
def encode_image(model, image: np.ndarray, condition: np.ndarray | None = None) -> np.ndarray:
    """Posterior mean of q(z|x), (D,) float32. Runs where the model lives (the decode worker)."""
    c = None if condition is None or not model.cond_dim else \
        torch.from_numpy(np.asarray(condition, np.float32)).to(model.device).unsqueeze(0)
    mu, _ = model.encode(as_input(image, model.device), c)
    return mu[0].float().cpu().numpy()


def copy_for_inversion(model) -> torch.nn.Module:
    """A private eval copy with frozen weights for a job thread. Made with grad mode on: under the worker's
    inference mode a copy's tensors would be inference tensors, which backward() refuses."""
    with torch.inference_mode(False), torch.no_grad():
        clone = copy.deepcopy(model).eval()
    for p in clone.parameters():
        p.requires_grad_(False)
    return clone


@dataclass(frozen=True)
class InversionResult:
    z: np.ndarray              # (D,) float32, the best restart
    error: float               # its reconstruction MSE (pixels in [0, 1])
    initial_error: float       # the best MSE among the random starting points
    steps: int
    restarts: int


def reconstruction_error(model, z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(R,) MSE between decode(z) for z (R, D) and one target (1, C, H, W)."""
    return (model.decode(z) - target).pow(2).flatten(1).mean(1)


def invert_gan(model, image: np.ndarray, *, steps: int = 300, restarts: int = 8, lr: float = 0.05,
               prior_weight: float = 0.01, seed: int = 0,
               progress: Callable[[float, str], None] = lambda f, s: None,
               should_stop: Callable[[], bool] = lambda: False) -> InversionResult:
    """Finds z with decode(z) close to the image: Adam on `restarts` random starts at once, minimising
    MSE + prior_weight * E0 * mean(z^2). The penalty keeps z where the prior puts mass, so the answer is a
    typical latent rather than a far-out one that happens to fit; E0, the median error at the random starts,
    makes it relative, so a model whose images barely vary is not pulled to z = 0 by a penalty larger than
    all of its reconstruction error. Raises Cancelled when asked to stop."""
    with torch.inference_mode(False), torch.enable_grad():
        device = model.device
        target = as_input(image, device)
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(restarts, model.latent_dim, generator=g).to(device).requires_grad_(True)
        opt = _Adam(z)
        with torch.no_grad():
            initial = reconstruction_error(model, z, target)
        best_err, best_z = initial.clone(), z.detach().clone()
        penalty = prior_weight * float(initial.median())
        for step in range(steps):
            if should_stop():
                raise Cancelled()
            step_lr = lr * 0.5 * (1 + math.cos(math.pi * step / steps))   # cosine decay: big moves first
            err = reconstruction_error(model, z, target)                   # (R,)
            loss = (err + penalty * z.pow(2).mean(1)).sum()            # restarts are independent
            z.grad = None
            loss.backward()
            with torch.no_grad():
                better = err.detach() < best_err                           # err belongs to z before the step
                best_err = torch.where(better, err.detach(), best_err)
                best_z[better] = z.detach()[better]
            opt.step(step_lr)
            if step % PROGRESS_EVERY == 0:
                progress(step / steps, f"inverting: step {step}/{steps}, error {float(best_err.min()):.4f}")
        with torch.no_grad():
            final = reconstruction_error(model, z, target)
            better = final < best_err
            best_err = torch.where(better, final, best_err)
            best_z[better] = z.detach()[better]
        i = int(torch.argmin(best_err))
        progress(1.0, f"inverted: error {float(best_err[i]):.4f}")
        return InversionResult(best_z[i].cpu().numpy().astype(np.float32), float(best_err[i]),
                               float(initial.min()), steps, restarts)


@dataclass(frozen=True, eq=False)
class InvertJob:
    """A GAN inversion for a job thread (editor/workers/job_channel.py): `invert_gan` of these, with its
    progress and Cancel."""
    model: torch.nn.Module         # the job's own copy (copy_for_inversion, made by the decode worker)
    image: np.ndarray              # (C, H, W) uint8, fitted to the model

    def __call__(self, progress, should_stop) -> InversionResult:
        return invert_gan(self.model, self.image, progress=progress, should_stop=should_stop)


class _Adam:
    """Adam (Kingma & Ba) on one tensor, the update torch.optim.Adam makes with its defaults. Written out
    because the first torch.optim optimiser of a process imports torch._dynamo: 2 s on a quiet 2-core machine,
    ~10 s on a busy one, all of it before the inversion's first step (issue 15, finding 15)."""

    def __init__(self, z: torch.Tensor, betas=(0.9, 0.999), eps: float = 1e-8):
        self.z, self.betas, self.eps, self.t = z, betas, eps, 0
        self.m, self.v = torch.zeros_like(z), torch.zeros_like(z)

    @torch.no_grad()
    def step(self, lr: float) -> None:
        b1, b2 = self.betas
        self.t += 1
        g = self.z.grad
        self.m.mul_(b1).add_(g, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (self.v / (1 - b2 ** self.t)).sqrt_().add_(self.eps)
        self.z.addcdiv_(self.m, denom, value=-lr / (1 - b1 ** self.t))
