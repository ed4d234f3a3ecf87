"""Helpers for the attribute, condition and history tests: the real window, its panels by type,
and reference decodes made with a separately loaded copy of the checkpoint."""
from __future__ import annotations

import numpy as np
import torch

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint


def tool(window, cls):
    """The window's tab that is a `cls` panel."""
    return next(w for w in map(window.tools.widget, range(window.tools.count())) if isinstance(w, cls))


def open_on_tab(qtbot, window, path, cls):
    """Open path in the window and bring its `cls` tab forward: (window, the panel, the loaded model)."""
    from tests.editor_helpers import open_and_wait

    loaded = open_and_wait(qtbot, window, path)
    panel = tool(window, cls)
    window.tools.setCurrentWidget(panel)
    return window, panel, loaded


def decode_reference(path, z, c=None) -> np.ndarray:
    """(H, W, C) uint8 for one latent z (D,), or (B, H, W, C) for a batch (B, D), decoded in this thread."""
    model = load_checkpoint(path).model
    z = torch.from_numpy(np.asarray(z, np.float32))
    batch = z.ndim == 2
    c = None if c is None else torch.from_numpy(np.asarray(c, np.float32))
    with torch.inference_mode():
        out = images_to_hwc_uint8(model.decode(z if batch else z[None],
                                               None if c is None else (c if c.ndim == 2 else c[None])))
    return out if batch else out[0]


def shown(qtbot, window, expected, timeout=10_000):
    """Waits until the decoded view shows exactly `expected`; returns it."""
    qtbot.waitUntil(lambda: window.decoded_view.image is not None
                    and np.array_equal(window.decoded_view.image, expected), timeout=timeout)
    return expected
