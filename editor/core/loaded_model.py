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
from latent_atlas.editor.core.model_info import ModelInfo
from latent_atlas.models.checkpoints.checkpoint import Checkpoint, load_checkpoint
from latent_atlas.models.data import ImageData, load_dataset
from latent_atlas.models.data.recorded_source import recorded_dataset
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
    origin: dict | None = None            # a user's module (ModuleSource.describe()); None for a checkpoint
    data_refused: str | None = None       # why the data the file records was not loaded (shown to the user)
    info: ModelInfo = field(init=False)   # what the GUI thread reads: it never touches the module

    def __post_init__(self):              # runs where the LoadedModel is built: the load job's thread
        self.info = ModelInfo.of(self.checkpoint.model, self.checkpoint.kind)

    @cached_property
    def sha256(self) -> str:
        """What sessions, recipes and vector files check: the checkpoint file's sha256, or for a user's
        module the sha256 of its weights."""
        if self.origin is not None:
            return self.origin["weights_sha256"]
        from latent_atlas.editor.core.recipe import file_sha256

        return file_sha256(self.path)

    @property
    def is_module(self) -> bool:
        return self.origin is not None

    @property
    def model(self):
        """The module: the load job's until the controller hands it to the decode worker, the worker's
        after. The GUI thread reads `info` instead."""
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
        if self.origin is not None:
            return self.origin["module"]
        return self.path.name


def _map_data(ckpt: Checkpoint, limit: int, split: str, data_folder: str | None = None
              ) -> tuple[ImageData | None, str | None]:
    """(the data for the map, None) or (None, why not): the reason reaches the user, never swallowed.
    A folder the user chose is loaded as asked; its errors are the user's to see (the load fails)."""
    c, h, _ = ckpt.model.image_shape
    if data_folder is not None:
        return load_dataset(data_folder, split=split, image_size=h, channels=c, limit=limit), None
    try:       # a path recorded in the file is used only if it is a dataset folder (recorded_source.py)
        spec = recorded_dataset(ckpt.dataset or {}, ckpt.path)
        return load_dataset(spec, split=split, image_size=h, channels=c, limit=limit), None
    except DatasetError as e:
        return None, (str(e).splitlines() or [type(e).__name__])[0]


FIRST_POOL = 500          # the first image is the most typical of the first FIRST_POOL data images


@torch.inference_mode()
def _encode_all(model, x: np.ndarray, cond: np.ndarray | None, progress, should_stop, batch=FIRST_POOL,
                first_batch: Callable[[np.ndarray], None] | None = None):
    """Posterior means and log-variances of x, in batches; first_batch(means) runs after the first one."""
    mus, logvars = [], []
    for start in range(0, len(x), batch):
        if should_stop():
            raise Cancelled()
        xb = torch.from_numpy(x[start:start + batch]).to(model.device).float() / 255.0
        cb = None if cond is None else torch.from_numpy(cond[start:start + batch]).to(model.device)
        mu, logvar = model.encode(xb, cb)
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
        if start == 0 and first_batch is not None:
            first_batch(mus[0].numpy())
        progress(0.2 + 0.6 * min(1.0, (start + batch) / len(x)), "encoding the dataset")
    return torch.cat(mus).numpy(), torch.cat(logvars).numpy()


def load_for_editor(path, *, device: torch.device, map_limit: int = 10_000, map_split: str = "test",
                    projection: str = "pca",
                    progress: Callable[[float, str], None] = lambda f, s: None,
                    should_stop: Callable[[], bool] = lambda: False, cached=None,
                    use_cache: bool = False, data_folder: str | None = None,
                    preview: Callable[[FirstImage], None] | None = None) -> LoadedModel:
    """Runs in a worker thread. Raises LatentAtlasError with the file name on bad input. `cached` (a
    map_cache.CachedMap of this file) skips encoding the data set; with use_cache a cold load writes one.
    `preview` gets the FirstImage as soon as the first batch is encoded (a cold start shows it at once)."""
    from latent_atlas.editor.core import map_cache

    path = Path(path)
    progress(0.0, f"reading {path.name}")
    ckpt = load_checkpoint(path, device=device)
    ckpt.model.eval()
    if cached is not None and cached.latents.shape[1] == ckpt.model.latent_dim \
            and cached.images.shape[1:3] == ckpt.model.image_shape[1:]:
        loaded = _from_cache(path, ckpt, device, cached)
        progress(1.0, "ready")
        return loaded
    progress(0.1, "loading the dataset")
    data, refused = (_map_data(ckpt, map_limit, map_split, data_folder) if ckpt.model.can_encode
                     else (None, None))
    loaded = _prepare(path, ckpt, data, device, map_split, projection, progress, should_stop, preview=preview)
    if refused is not None and data is None:
        _note_refused(loaded, refused)
    if use_cache:
        _write_cache(loaded, map_cache, map_split, map_limit)
    return loaded


def _from_cache(path, ckpt, device, cached) -> LoadedModel:
    """The LoadedModel of a warm start: the cached map's arrays, the projection refitted (PCA: milliseconds,
    and the same embedding, so the map does not move)."""
    loaded = LoadedModel(path, ckpt, device, cached.images, cached.latents, cached.logvars, cached.labels,
                         cached.label_names, cached.conditions, cached.condition_names, cached.attributes,
                         cached.attribute_names, cached.source_note, start_index=cached.start_index)
    if len(loaded.condition_names) != ckpt.model.cond_dim:
        loaded.condition_names = [f"condition {i}" for i in range(ckpt.model.cond_dim)]
    loaded.__dict__["sha256"] = cached.sha256     # hashed by the warm start already: not read twice
    project(loaded, cached.projection)
    if cached.data_refused:              # the cached map is the prior samples a cold start drew instead
        _note_refused(loaded, cached.data_refused)
    return loaded


def _note_refused(loaded: LoadedModel, refused: str) -> None:
    """The reason the recorded data was not loaded, for the notice above the map and the status line."""
    loaded.data_refused = refused
    loaded.warnings = [f"the map shows prior samples, not data: {refused}"] + [
        w for w in loaded.warnings if "is not available" not in w]


def _write_cache(loaded: LoadedModel, map_cache, split: str, limit: int) -> None:
    start = loaded.latents[loaded.start_index][None]
    c = None if loaded.conditions is None else torch.from_numpy(loaded.conditions[loaded.start_index][None])
    with torch.inference_mode():
        first = images_to_hwc_uint8(loaded.model.decode(torch.from_numpy(start).to(loaded.device),
                                                        None if c is None else c.to(loaded.device)))[0]
    map_cache.write_cached(loaded, loaded.sha256, split, limit, first)


def load_module_for_editor(model, data: ImageData | None, origin: dict, *, projection: str = "pca",
                           progress: Callable[[float, str], None] = lambda f, s: None,
                           should_stop: Callable[[], bool] = lambda: False) -> LoadedModel:
    """A user's module (a ModuleModel, see models/adapters) with the data it was given: the same
    LoadedModel as a checkpoint's, so every tool works on it. Runs in a worker thread."""
    dataset = {"name": data.name if data is not None else "none", "module": origin,
               "condition_names": list(origin.get("condition_names") or []),
               "condition": origin.get("condition_kind", "labels")}
    if data is not None:
        dataset["source"] = data.source
    path = Path(origin.get("weights") or origin.get("file") or origin["module"])
    ckpt = Checkpoint(path=path, kind=model.kind, config=model.config, model=model.eval(), dataset=dataset)
    loaded = _prepare(path, ckpt, data if model.can_encode else None, model.device, "given", projection,
                      progress, should_stop, module=True)
    loaded.origin = origin
    return loaded


@dataclass(frozen=True)
class FirstImage:
    """What a cold start can show before the whole data set is encoded: the data image that will be the
    first view (LoadedModel.start_index), its reconstruction and its caption."""
    path: Path
    index: int
    image: np.ndarray          # (H, W, C) uint8, the decode of the image's posterior mean
    original: np.ndarray       # (H, W, C) uint8
    caption: str


def typical_index(latents: np.ndarray) -> int:
    """The densest point of the latents' own 2-D PCA (densest_point): the middle of a cluster, the same
    whatever projection the map then uses, and known once the first batch is encoded."""
    x = np.asarray(latents, np.float64)
    x = x - x.mean(0)
    if len(x) >= 3 and x.shape[1] >= 2:
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        x = x @ vt[:2].T
    return densest_point(x.astype(np.float32))


def _first_image(path, model, data, conditions, index, z) -> FirstImage:
    with torch.inference_mode():
        c = None if conditions is None else torch.from_numpy(conditions[index:index + 1]).to(model.device)
        image = images_to_hwc_uint8(model.decode(torch.from_numpy(z[None]).to(model.device), c))[0]
    label = ""
    if data.labels is not None and 0 <= data.labels[index] < len(data.label_names):
        label = f" {data.label_names[data.labels[index]]}"
    return FirstImage(Path(path), index, image, chw_to_hwc(data.images[index:index + 1])[0], f"#{index}{label}")


def _prepare(path, ckpt, data, device, map_split, projection, progress, should_stop, module=False,
             preview: Callable[[FirstImage], None] | None = None):
    model = ckpt.model
    ds = ckpt.dataset or {}
    cond_names = list(ds.get("condition_names") or [])
    labels = data.labels if data is not None else None
    conditions = None
    if data is not None and model.can_encode:
        if model.cond_dim and module and ds.get("condition") == "attributes":
            fits = data.attributes is not None and data.attributes.shape[1] == model.cond_dim
            conditions, data = (data.attributes, data) if fits else (None, None)
        elif model.cond_dim and module:
            data = None if data.labels is None or len(data.label_names) != model.cond_dim else data
            if data is not None:
                conditions = np.eye(model.cond_dim, dtype=np.float32)[data.labels]
        elif model.cond_dim:
            try:
                conditions, cond_names = data.conditions(ds.get("condition") or "labels")
            except DatasetError:
                data = None
        if data is not None and conditions is not None and conditions.shape[1] != model.cond_dim:
            data = None   # the dataset on disk does not match what the CVAE was trained on
    warnings = []
    start = None
    if data is not None:
        def first_batch(means: np.ndarray) -> None:
            nonlocal start
            start = typical_index(means)
            if preview is not None:
                preview(_first_image(path, model, data, conditions, start, means[start]))
        latents, logvars = _encode_all(model, data.images, conditions, progress, should_stop,
                                       first_batch=first_batch)
        images = chw_to_hwc(data.images)
        note = (f"{len(data)} given images, posterior means" if module
                else f"{data.name} {map_split} split, {len(data)} images, posterior means")
        if "bundled subset" in data.source:     # emoji without its packages: say the map is a part of the set
            note += " (a bundled subset; for all of them " + data.source.rsplit("install with: ", 1)[-1]
    else:
        if model.can_encode and not module:
            warnings.append(f"the dataset {ds.get('name', '?')!r} of {path.name} is not available: "
                            "the map shows prior samples")
        elif model.can_encode and model.cond_dim and ckpt.dataset.get("source"):
            warnings.append("a conditional model's map needs data with one label per condition: the map "
                            "shows prior samples")
        g = torch.Generator().manual_seed(0)
        z = torch.randn(GAN_MAP_POINTS, model.latent_dim, generator=g)
        device = model.device
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
    loaded.start_index = densest_point(loaded.embedding) if start is None else start   # prior samples: the map's
    progress(1.0, "ready")
    return loaded


def densest_point(embedding: np.ndarray, k: int = 16) -> int:
    """The map point whose k-th nearest neighbour is nearest: the middle of the densest cluster, so the
    first image shown is a typical one. (The middle of a t-SNE or UMAP map is often empty space between
    clusters, and the data point nearest the mean latent decodes to the blurriest image of all.)"""
    k = min(k, len(embedding) - 1)
    if k < 1:
        return 0
    if len(embedding) <= 600:      # all pairs in numpy (a few MB): the first image comes before scipy is imported
        x = np.asarray(embedding, np.float64)
        d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)                   # (N, N), the point itself 0
        return int(np.argmin(np.partition(d2, k, axis=1)[:, k]))
    from scipy.spatial import cKDTree

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


__all__ = ["LoadedModel", "FirstImage", "typical_index", "load_for_editor", "load_module_for_editor", "project", "densest_point", "Cancelled", "LatentAtlasError"]
