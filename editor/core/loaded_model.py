"""Everything the editor needs about one opened checkpoint, computed off the GUI thread:
the model, the images on the map, their posterior means, and the 2-D projection."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from latent_atlas.editor.core.density import OffDataCheck
from latent_atlas.editor.core.image_convert import chw_to_hwc, images_to_hwc_uint8
from latent_atlas.models.checkpoints.checkpoint import Checkpoint, load_checkpoint
from latent_atlas.models.data import DATASET_NAMES, ImageData, load_dataset
from latent_atlas.models.errors import DatasetError, LatentAtlasError
from latent_atlas.models.latent.projection import Projection, make_projection

GAN_MAP_POINTS = 2000   # prior samples drawn for a GAN's map (it has no encoder)


class Cancelled(Exception):
    """The user cancelled a background job."""


@dataclass
class LoadedModel:
    path: Path
    checkpoint: Checkpoint
    device: torch.device
    images: np.ndarray                 # (N, H, W, C) uint8: what hovering a map point shows
    latents: np.ndarray                # (N, D) float32 posterior means (VAE) or prior draws (GAN)
    logvars: np.ndarray | None         # (N, D) posterior log-variances, VAE family only
    labels: np.ndarray | None          # (N,) int, for colouring
    label_names: list[str]
    conditions: np.ndarray | None      # (N, cond_dim) each point's own CVAE condition
    condition_names: list[str]         # one per condition entry (cond_dim of them)
    attributes: np.ndarray | None
    attribute_names: list[str]
    source_note: str
    projection: Projection | None = None
    embedding: np.ndarray | None = None   # (N, 2)
    warnings: list[str] = field(default_factory=list)
    start_index: int = 0                  # the data point shown first: see densest_point

    @property
    def model(self):
        return self.checkpoint.model

    @cached_property
    def off_data(self) -> OffDataCheck:
        """The off-the-data test of this model's data latents (its threshold is computed on first use,
        on the decode worker)."""
        return OffDataCheck(self.latents)

    @property
    def condition_one_hot(self) -> bool:
        """A CVAE's condition is one class (one-hot) unless it was trained on independent attributes."""
        return (self.checkpoint.dataset or {}).get("condition") != "attributes"

    @property
    def kind(self) -> str:
        return self.checkpoint.kind

    @property
    def name(self) -> str:
        return self.path.name


def _map_data(ckpt: Checkpoint, limit: int, split: str) -> ImageData | None:
    ds = ckpt.dataset or {}
    c, h, _ = ckpt.model.image_shape
    name = ds.get("name")
    spec = name if name in DATASET_NAMES else ds.get("source")
    if not spec or not Path(str(spec)).exists() and spec not in DATASET_NAMES:
        return None
    try:
        return load_dataset(spec, split=split, image_size=h, channels=c, limit=limit)
    except DatasetError:
        return None


@torch.inference_mode()
def _encode_all(model, x: np.ndarray, cond: np.ndarray | None, progress, should_stop, batch=500):
    mus, logvars = [], []
    for start in range(0, len(x), batch):
        if should_stop():
            raise Cancelled()
        xb = torch.from_numpy(x[start:start + batch]).to(model.device).float() / 255.0
        cb = None if cond is None else torch.from_numpy(cond[start:start + batch]).to(model.device)
        mu, logvar = model.encode(xb, cb)
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
        progress(0.2 + 0.6 * min(1.0, (start + batch) / len(x)), "encoding the dataset")
    return torch.cat(mus).numpy(), torch.cat(logvars).numpy()


def load_for_editor(path, *, device: torch.device, map_limit: int = 10_000, map_split: str = "test",
                    projection: str = "pca",
                    progress: Callable[[float, str], None] = lambda f, s: None,
                    should_stop: Callable[[], bool] = lambda: False) -> LoadedModel:
    """Runs in a worker thread. Raises LatentAtlasError with the file name on bad input."""
    path = Path(path)
    progress(0.0, f"reading {path.name}")
    ckpt = load_checkpoint(path, device=device)
    model = ckpt.model.eval()
    progress(0.1, "loading the dataset")
    data = _map_data(ckpt, map_limit, map_split) if model.can_encode else None
    ds = ckpt.dataset or {}
    cond_names = list(ds.get("condition_names") or [])
    labels = data.labels if data is not None else None
    conditions = None
    if data is not None and model.can_encode:
        if model.cond_dim:
            try:
                conditions, cond_names = data.conditions(ds.get("condition") or "labels")
            except DatasetError:
                data = None
        if data is not None and conditions is not None and conditions.shape[1] != model.cond_dim:
            data = None   # the dataset on disk does not match what the CVAE was trained on
    warnings = []
    if data is not None:
        latents, logvars = _encode_all(model, data.images, conditions, progress, should_stop)
        images = chw_to_hwc(data.images)
        note = f"{data.name} {map_split} split, {len(data)} images, posterior means"
    else:
        if model.can_encode:
            warnings.append(f"the dataset {ds.get('name', '?')!r} of {path.name} is not available: "
                            "the map shows prior samples")
        g = torch.Generator().manual_seed(0)
        z = torch.randn(GAN_MAP_POINTS, model.latent_dim, generator=g)
        c = _default_conditions(model, GAN_MAP_POINTS)
        with torch.inference_mode():
            images = np.concatenate([images_to_hwc_uint8(model.decode(zb.to(device), None if c is None else
                                                                      c[i:i + 500].to(device)))
                                     for i, zb in zip(range(0, len(z), 500), z.split(500))])
        latents, logvars = z.numpy(), None
        labels = None
        conditions = None if c is None else c.numpy()
        note = f"{GAN_MAP_POINTS} samples from the prior N(0, I)"
    if len(cond_names) != model.cond_dim:                # a name for every entry, whatever the file says
        cond_names = [f"condition {i}" for i in range(model.cond_dim)]
    loaded = LoadedModel(path, ckpt, device, images, latents.astype(np.float32), logvars, labels,
                         list(data.label_names) if data is not None and labels is not None else [],
                         conditions, cond_names,
                         data.attributes if data is not None else None,
                         list(data.attribute_names) if data is not None else [], note, warnings=warnings)
    progress(0.85, "projecting to 2-D")
    project(loaded, projection, should_stop=should_stop)
    loaded.start_index = densest_point(loaded.embedding)
    progress(1.0, "ready")
    return loaded


def densest_point(embedding: np.ndarray, k: int = 16) -> int:
    """The map point whose k-th nearest neighbour is nearest: the middle of the densest cluster, so the
    first image shown is a typical one. (The middle of a t-SNE or UMAP map is often empty space between
    clusters, and the data point nearest the mean latent decodes to the blurriest image of all.)"""
    from scipy.spatial import cKDTree

    k = min(k, len(embedding) - 1)
    if k < 1:
        return 0
    distance, _ = cKDTree(embedding).query(embedding, k=k + 1)    # (N, k + 1), the point itself first
    return int(np.argmin(distance[:, -1]))


def _default_conditions(model, n: int) -> torch.Tensor | None:
    if not model.cond_dim:
        return None
    return torch.nn.functional.one_hot(torch.arange(n) % model.cond_dim, model.cond_dim).float()


def project(loaded: LoadedModel, method: str, should_stop=lambda: False, **options) -> None:
    """Fits the projection (may take seconds for t-SNE/UMAP: call from a worker)."""
    if method == "identity" or (method == "auto" and loaded.latents.shape[1] == 2):
        method = "identity"
    proj = make_projection(method, **options).fit(loaded.latents, should_stop=should_stop)
    if should_stop():
        raise Cancelled()
    loaded.projection, loaded.embedding = proj, proj.embedding


__all__ = ["LoadedModel", "load_for_editor", "project", "densest_point", "Cancelled", "LatentAtlasError"]
