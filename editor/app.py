"""Starts the Qt application: the window, the bundled default model, and the --screenshot mode."""
from __future__ import annotations

import os
import sys

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


def create_window(device: str = "auto", map_limit: int = 10_000):
    # torch, scipy and sklearn first: PySide6 installs an import hook that reads the source of every
    # module imported after it, which makes torch's lazy imports take seconds
    import scipy.spatial  # noqa: F401
    import sklearn.decomposition  # noqa: F401
    import torch  # noqa: F401
    from PySide6.QtWidgets import QApplication

    import pyqtgraph as pg

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Latent Atlas")
    app.setOrganizationName("LatentAtlas")
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    from editor.core.state import EditorState

    from .controller import Controller
    from .main_window import MainWindow
    from .tool_panels import add_tool_panels

    state = EditorState()
    controller = Controller(state, device=device, map_limit=map_limit)
    window = MainWindow(state, controller)
    add_tool_panels(window)
    return app, window


def run_editor(args) -> int:
    from editor.core.bundled import default_model
    from models.errors import LatentAtlasError

    app, window = create_window(args.device)
    path = args.open or (str(default_model().path) if default_model() else None)
    if args.projection != "pca":
        window.controller.projection_method = args.projection
    window.show()
    if path is None:
        window.show_error("No model", "No bundled model was found in resources/models. Open a checkpoint "
                          "with File > Open.")
    else:
        window.open_path(path)
    if args.screenshot:
        from .screenshot import take_screenshot_when_ready
        if path is None:
            raise LatentAtlasError("--screenshot needs a model: none bundled and no --open FILE")
        return take_screenshot_when_ready(app, window, args.screenshot)
    return app.exec()
