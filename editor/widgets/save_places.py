"""Where the save dialogs start: in the folder of the last file saved this session, else in the user's home.
Qt's default is the working directory, which for a program started from a terminal is often a source checkout
or a system folder (the Xvfb walk's export dialog opened in the repository)."""
from __future__ import annotations

from pathlib import Path

_last_folder: Path | None = None


def start_path(name: str) -> str:
    """The path a save dialog proposes for a file called `name`."""
    folder = _last_folder if _last_folder is not None and _last_folder.is_dir() else Path.home()
    return str(folder / name)


def remember(path: str) -> None:
    """A file was saved at `path`: the next save dialog starts in its folder."""
    global _last_folder
    if path:
        _last_folder = Path(path).expanduser().resolve().parent
