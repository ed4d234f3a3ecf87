"""`latent_atlas.view(net, data=..., ...)`: the editor on a user's own module, from Python.

Like napari.run(), it blocks until the window closes; under IPython with `%gui qt` it returns the window
instead (the notebook's event loop drives it); screenshot="out.png" renders once, saves and returns the
path. Every tool of the editor works on the module, except training it.
"""
from __future__ import annotations

import sys
from pathlib import Path


def prepare(net, *, data=None, labels=None, label_names=None, condition_names=None, condition_kind="labels",
            conditions=None, kind=None,
            latent_dim=None, latent_shape=None, image_shape=None, output_range=None, input_range=None,
            likelihood=None, sigma=1.0, device=None, source=None, map_limit: int = 10_000):
    """(ModuleModel, ImageData or None, origin dict): what view() and --module open. ConfigError or
    DatasetError (one line that names what is missing) on anything that does not fit."""
    from latent_atlas.models.adapters.module_data import image_data_from
    from latent_atlas.models.adapters.probe import adapt
    from latent_atlas.models.adapters.source import source_of
    from latent_atlas.models.device import resolve_device
    from latent_atlas.models.errors import ConfigError

    if condition_kind not in ("labels", "attributes"):
        raise ConfigError(f"condition_kind must be 'labels' (one class) or 'attributes' (independent 0/1 entries), "
                          f"got {condition_kind!r}")
    if condition_names is not None:
        condition_names = [str(n) for n in condition_names]
        if not condition_names:
            raise ConfigError("condition_names is empty: give one name per condition entry")
    if device is not None and hasattr(net, "to"):
        net.to(resolve_device(device))
    images, value_range = (None, None) if data is None else image_data_from(
        data, labels, label_names, limit=map_limit, image_shape=image_shape)
    if images is None and labels is not None:
        raise ConfigError("labels= needs data=: one label per image")
    cond_dim = len(condition_names) if condition_names is not None else None
    folder = isinstance(data, (str, Path))
    model = adapt(net, data=None if folder else images, data_range=value_range, kind=kind, latent_dim=latent_dim,
                  latent_shape=latent_shape, image_shape=image_shape, output_range=output_range,
                  input_range=input_range, cond_dim=cond_dim, likelihood=likelihood, sigma=sigma)
    if folder and images is not None and images.image_shape != model.image_shape:
        images, _ = image_data_from(data, labels, label_names, limit=map_limit, image_shape=model.image_shape)
    if conditions is not None:
        images = _with_conditions(images, conditions, model.cond_dim, condition_names)
    if model.cond_dim and condition_kind == "labels" and images is not None and images.labels is not None \
            and len(images.label_names) != model.cond_dim:
        raise ConfigError(f"the data has {len(images.label_names)} label names but the model takes "
                          f"{model.cond_dim} condition entries: a CVAE's map needs one label per condition")
    origin = (source or source_of(net)).describe()
    names = condition_names or (list(images.label_names) if model.cond_dim and images is not None
                                and images.labels is not None else None)
    origin["condition_names"] = names or [f"condition {i}" for i in range(model.cond_dim)]
    origin["likelihood"] = model.config.likelihood
    origin["condition_kind"] = condition_kind
    return model, images, origin


def view(net, data=None, *, labels=None, label_names=None, condition_names=None, condition_kind="labels",
         conditions=None, kind=None, latent_dim=None,
         latent_shape=None, image_shape=None, output_range=None, input_range=None, likelihood=None, sigma=1.0,
         device=None, screenshot=None, projection: str = "pca", map_limit: int = 10_000, block: bool | None = None):
    """Open the editor on `net`. Returns None after the window closes, the window (under `%gui qt`, or
    block=False), or the screenshot's Path. Raises ConfigError/DatasetError before any window opens when
    the module or data does not fit (the message says which argument is missing)."""
    model, images, origin = prepare(net, data=data, labels=labels, label_names=label_names,
                                    condition_names=condition_names, condition_kind=condition_kind,
                                    conditions=conditions, kind=kind,
                                    latent_dim=latent_dim,
                                    latent_shape=latent_shape, image_shape=image_shape,
                                    output_range=output_range, input_range=input_range,
                                    likelihood=likelihood, sigma=sigma, device=device, map_limit=map_limit)
    code, window = open_window(model, images, origin, screenshot=screenshot, projection=projection, block=block)
    if screenshot is not None:
        if code != 0:
            from latent_atlas.models.errors import LatentAtlasError
            raise LatentAtlasError(window.errors[-1] if window.errors else f"could not render {screenshot}")
        return Path(screenshot)
    return window if code is None else None


def _with_conditions(images, conditions, cond_dim: int, names):
    """Each image's own condition (N, cond_dim), e.g. CelebA's attribute rows, kept as the data's attributes."""
    from dataclasses import replace

    import numpy as np

    from latent_atlas.models.errors import ConfigError

    if images is None:
        raise ConfigError("conditions= needs data=: one condition row per image")
    c = np.asarray(conditions.detach().cpu().numpy() if hasattr(conditions, "detach") else conditions, np.float32)
    if c.shape != (len(images), cond_dim) or not np.isfinite(c).all() or c.min() < 0 or c.max() > 1:
        raise ConfigError(f"conditions= must be ({len(images)}, {cond_dim}) values in [0, 1], got {c.shape}")
    return replace(images, attributes=c, attribute_names=list(names or [f"condition {i}" for i in range(cond_dim)]))


def open_window(model, images, origin, *, screenshot=None, projection="pca", block=None):
    """(exit code, window): the code is None while the window stays open (a notebook, block=False)."""
    from latent_atlas.editor.app import check_display, create_window

    check_display()
    app, window = create_window(str(model.device))
    if projection != "pca":
        window.controller.projection_method = projection
    window.controller.open_module(model, images, origin)
    if screenshot is not None:
        from latent_atlas.editor.screenshot import take_screenshot_when_ready

        window.show()
        try:
            return take_screenshot_when_ready(app, window, str(screenshot)), window
        finally:
            window.controller.shutdown()
            window.close()
    window.show()
    if block is False or (block is None and _notebook_event_loop()):
        return None, window
    try:
        return app.exec(), window
    finally:
        window.controller.shutdown()


def _notebook_event_loop() -> bool:
    """True under IPython with `%gui qt`: its kernel runs the Qt event loop, so view() must not."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    loop = getattr(shell, "active_eventloop", None) if shell is not None else None
    return bool(loop) and str(loop).startswith("qt")
