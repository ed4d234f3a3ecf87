"""Starts the Qt application: the window, the bundled default model, and the --screenshot mode."""
from __future__ import annotations

import builtins
import importlib
import os
import sys
import threading
from contextlib import contextmanager

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
_PLAIN_IMPORT = builtins.__import__     # before PySide6 replaces it with its feature-import hook


@contextmanager
def _plain_imports():
    """PySide6 routes every later import through its `__feature__` hook; torch, scipy and scikit-learn (about
    two thousand modules, none of which uses Qt) import ~0.25 s faster without it. Restored afterwards."""
    hook = builtins.__import__
    builtins.__import__ = _PLAIN_IMPORT
    try:
        yield
    finally:
        builtins.__import__ = hook


# imported once the first image is on screen, on a thread of their own and around PySide6's import hook: the
# map's hover tree and the model loader's densest point need scipy.spatial (0.6-0.8 s, which held a cold start's
# first image while it was imported before the tool panels), the decode worker's off-data check scikit-learn's
# neighbour index and the density line scipy.stats; through the hook (which reads the source of every module)
# their first import held the worker for over 6 s, so the first drag's strips stopped coming
LATER_IMPORTS = ("scipy.spatial", "scipy.stats", "sklearn.neighbors")


def import_later_modules() -> threading.Thread:
    """Starts importing LATER_IMPORTS in the background (a thread that ends when they are in)."""
    def work() -> None:
        with _plain_imports():
            for name in LATER_IMPORTS:
                importlib.import_module(name)
    thread = threading.Thread(target=work, name="later imports", daemon=True)
    thread.start()
    return thread


def create_window(device: str = "auto", map_limit: int = 10_000, *, complete: bool = True):
    """(app, window). complete=False builds only what needs no torch (menus, map, image views), so the
    window can be on screen before the heavy imports; finish_startup(window) then adds the rest."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Latent Atlas")
    app.setOrganizationName("LatentAtlas")
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    from latent_atlas.editor.controller import Controller
    from latent_atlas.editor.core.state import EditorState
    from latent_atlas.editor.main_window import MainWindow

    state = EditorState()
    controller = Controller(state, device=device, map_limit=map_limit)
    window = MainWindow(state, controller)
    if complete:
        finish_startup(window)
    return app, window


def finish_startup(window, before_panels=None) -> None:
    """The part of start-up that imports torch (about a second): the device menu and the tool panels.
    ConfigError when the requested device is not on this machine. scipy.spatial, scipy.stats and scikit-learn's
    neighbours (two seconds more) come on a thread once the first image is in (LATER_IMPORTS); the rest of
    scikit-learn where it is used (t-SNE, direction finding)."""
    with _plain_imports():
        import torch  # noqa: F401

        import latent_atlas.editor.core.loaded_model  # noqa: F401  (the model loader: checkpoints, data, projections)
    window.attach_devices()
    if before_panels is not None:     # start-up opens its model here: the load job runs while the panels are built
        before_panels()
    window.add_tool_panels()
    c = window.controller
    started = []

    def image_in(_what) -> None:        # once: the first image (or the whole model) is on screen, the rest can come
        if not started:
            started.append(import_later_modules())
            c.first_image.disconnect(image_in)
            c.model_loaded.disconnect(image_in)
    c.first_image.connect(image_in)
    c.model_loaded.connect(image_in)


def check_display(environ=os.environ, platform: str = sys.platform) -> None:
    """ConfigError, before Qt starts, when a Linux or BSD machine has no display and no QT_QPA_PLATFORM
    (Qt would print its xcb plugin dump and abort)."""
    if platform.startswith(("win", "darwin", "cygwin")) or environ.get("QT_QPA_PLATFORM"):
        return
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        from latent_atlas.models.errors import ConfigError
        raise ConfigError("no display: set DISPLAY or use QT_QPA_PLATFORM=offscreen for --screenshot")


def run_editor(args) -> int:
    from latent_atlas.editor.core.bundled import default_model
    from latent_atlas.models.errors import ConfigError

    check_display()
    if args.module:
        return run_module(args)
    if args.weights or args.data:
        raise ConfigError(f"{'--weights' if args.weights else '--data'} goes with --module FILE.py:FACTORY")
    bundled = default_model()
    path = args.open or (str(bundled.path) if bundled else None)
    if args.screenshot and path is None:
        raise ConfigError("--screenshot needs a model: none bundled and no --open FILE")
    app, window = create_window(args.device, complete=False)
    try:
        return _show_and_run(app, window, args, path)
    finally:
        window.controller.shutdown()          # every exit, early or late: no QThread left running


def run_module(args) -> int:
    """--module FILE.py:FACTORY [--weights W] [--data D]: the user's own code, built before any window."""
    from latent_atlas.editor.python_api import open_window, prepare
    from latent_atlas.models.adapters.source import build_from_spec, shape_argument
    from latent_atlas.models.checkpoints.zoo_convert import read_condition_names
    from latent_atlas.models.errors import ConfigError

    if args.open:
        raise ConfigError("--open and --module each name the model: give one of them")
    net, source = build_from_spec(args.module, args.weights)
    names = read_condition_names(args.condition_names) if args.condition_names else None
    model, images, origin = prepare(
        net, data=args.data, condition_names=names, kind=args.kind, latent_dim=args.latent_dim,
        latent_shape=shape_argument(args.latent_shape, "--latent-shape"),
        image_shape=shape_argument(args.image_shape, "--image-shape"), output_range=args.output_range,
        likelihood=args.likelihood, sigma=args.sigma, source=source,
        device=None if args.device == "auto" else args.device)
    code, _ = open_window(model, images, origin, screenshot=args.screenshot, projection=args.projection,
                          block=True)
    return int(code or 0)


def show_cached_map(window, path: str):
    """A warm start: the map and first image of `path` from the start-up cache (numpy only, before torch),
    or None. Clicks work once the model has loaded behind it."""
    from latent_atlas.editor.core import map_cache
    from latent_atlas.editor.core.recipe import file_sha256

    c = window.controller
    try:
        cached = map_cache.read_cached(file_sha256(path), c.map_split, c.map_limit, c.projection_method)
    except OSError:
        return None
    if cached is None:
        return None
    window.map.set_points(cached.embedding, cached.labels, cached.label_names, cached.images, title=cached.title)
    window.decoded_view.set_image(cached.first_image, "from the cache")
    window.original_view.set_image(cached.images[cached.start_index])
    message = "Loading PyTorch and the model (the map is from the cache)…"
    window.statusBar().showMessage(message)

    def loaded(_loaded) -> None:              # the model is in: the line has said what it had to say
        if window.statusBar().currentMessage() == message:
            window.statusBar().clearMessage()
    window.controller.model_loaded.connect(loaded)
    return cached


def _show_and_run(app, window, args, path: str | None) -> int:
    if args.projection != "pca":
        window.controller.projection_method = args.projection
    window.show()
    window.statusBar().showMessage("Loading PyTorch…")
    window.map.plot.setTitle("Loading PyTorch and the model…", size="9pt")
    app.processEvents()              # on screen now; the heavy imports follow
    cached = show_cached_map(window, path) if path is not None and args.projection == "pca" else None
    app.processEvents()

    def open_model() -> None:
        from latent_atlas.editor.widgets.plain_text import html_text

        if cached is None:
            window.statusBar().clearMessage()
            window.map.plot.setTitle(html_text(f"Opening {os.path.basename(path)}…"), size="9pt")
        window.controller.use_map_cache = True
        window.controller.open(path, cached=cached)   # a cold start's first image comes before its map

    try:
        finish_startup(window, before_panels=open_model if path is not None else None)
    except Exception:
        window.close()
        raise
    if path is None:
        window.statusBar().clearMessage()
        window.show_empty_hint()
        window.show_error("No model", "No bundled model was found. Open a checkpoint with File > Open.")
    if args.screenshot:
        from latent_atlas.editor.screenshot import take_screenshot_when_ready
        return take_screenshot_when_ready(app, window, args.screenshot)
    return app.exec()
