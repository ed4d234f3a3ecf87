"""Open Recent, kept with QSettings."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 10


class RecentFiles:
    def __init__(self, settings: QSettings | None = None):
        self.settings = settings or QSettings("LatentAtlas", "LatentAtlas")

    def paths(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        paths = [value] if isinstance(value, str) else list(value or [])
        return [p for p in paths if Path(p).is_file()]

    def add(self, path: str) -> None:
        path = str(Path(path).resolve())
        paths = [path] + [p for p in self.paths() if p != path]
        self.settings.setValue("recent_files", paths[:MAX_RECENT])

    def last_folder(self) -> str:
        paths = self.paths()
        return str(Path(paths[0]).parent) if paths else str(Path.home())
