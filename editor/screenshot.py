"""--screenshot: wait until the map and a decoded image are drawn, save the window as PNG, exit."""
from __future__ import annotations

import sys

from PySide6.QtCore import QTimer

from latent_atlas.models.checkpoints.atomic_io import atomic_write

TIMEOUT_MS = 300_000


def take_screenshot_when_ready(app, window, out: str) -> int:
    result = {"code": 1}

    def check() -> None:
        if window.errors:
            print(f"latent-atlas: error: {window.errors[-1]}", file=sys.stderr)
            app.exit(1)
        elif window.state.loaded is not None and window.decoded_view.image is not None \
                and not window.progress.isVisible():
            QTimer.singleShot(300, grab)   # let the last paint settle
        else:
            QTimer.singleShot(100, check)

    def grab() -> None:
        pixmap = window.grab()

        def write(tmp) -> None:
            if not pixmap.save(str(tmp), "PNG"):
                raise OSError(f"could not encode {out} as PNG")

        atomic_write(out, write)
        print(f"wrote {out} ({pixmap.width()}x{pixmap.height()})")
        result["code"] = 0
        app.exit(0)

    def timeout() -> None:
        print("latent-atlas: error: the window was not ready within the time limit", file=sys.stderr)
        app.exit(1)

    QTimer.singleShot(100, check)
    QTimer.singleShot(TIMEOUT_MS, timeout)
    code = app.exec()
    window.close()
    return code if code else result["code"]
